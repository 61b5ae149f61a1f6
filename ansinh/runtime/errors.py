"""The runtime's view of failures, in three kinds, and reasons that never echo a message's values.

* **transient**: the infrastructure, not the message (database or broker unreachable, deadlock,
  serialization failure, shutdown). Retried in place, never dead-lettered; the offset does not move.
* **ours**: a bug in our code, schema or configuration (SQLSTATE class 42 "undefined column",
  "permission denied", 0A, 3D, 3F, XX...). Every message would fail the same way, so dead-lettering would
  empty the topic into its DLQ: the consumer holds (retries with backoff, readiness red, loud log) until
  someone fixes and redeploys.
* **deterministic**: anything else, caused by the message (SQLSTATE 21/22/23/27/44/54/P0, a value asyncpg
  cannot encode, an exception of a pure step). The message that causes it is isolated and dead-lettered.

Database errors carry values in their text (``Key (citizen_id)=(...) already exists``, ``invalid input
for query argument $1: 99999...``): reasons and logs are built from the SQLSTATE and the names of the
constraint, table and column, never from the text.
"""
from __future__ import annotations

import asyncio
import re
import traceback
from typing import Literal

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from asyncpg.exceptions import _base as pg_base

Kind = Literal["transient", "ours", "deterministic"]


class PermanentError(Exception):
    """Retrying cannot help: the message is wrong. Its text is the DLQ reason, so make it actionable
    (and name the field, never its value: dead letters are read by people who may not see personal data)."""


class DecodeError(PermanentError):
    """The bytes are not a valid envelope or payload for this topic. ``code`` says which check refused them
    (a metric label: ``malformed_json``, ``invalid_envelope``, ``unknown_type``, ``invalid_fields``,
    ``invalid_header``, ``decoder_failed``), set where it is raised: never parse it out of the text."""

    def __init__(self, reason: str, code: str):
        super().__init__(reason)
        self.code = code


class EventIdReused(PermanentError):
    """``inbox.claim`` found event ids already used for different content (a producer reusing ids).

    ``reused`` holds each offending (event id, digest) pair: the consume loop dead-letters the messages
    that match one and commits the rest. An event id is a random UUID, never personal data, so the reason
    names it (an operator finds both messages by it); the content is not described."""

    code = "event_id_reused"

    def __init__(self, consumer: str, reused: list[tuple]):
        self.consumer, self.reused = consumer, tuple(reused)
        first = reused[0][0]
        more = f" (and {len(reused) - 1} more)" if len(reused) > 1 else ""
        super().__init__(f"event id {first}{more} already used for different content (consumer {consumer}): "
                         "refused, the content first received under this id is kept; a producer must give "
                         "every event its own id")

    def alone(self, event_id) -> "EventIdReused":
        """The same refusal for one of the ids (the reason of that message's dead letter)."""
        return EventIdReused(self.consumer, [pair for pair in self.reused if pair[0] == event_id][:1])


# SQLSTATE classes (first two characters), see https://www.postgresql.org/docs/current/errcodes-appendix.html
TRANSIENT_SQLSTATE = {"08", "40", "53", "55", "57", "58", "72"}  # connection, rollback, resources, lock, shutdown, I/O
OUR_SQLSTATE = {"0A", "25", "26", "28", "2F", "34", "38", "39", "3B", "3D", "3F", "42", "F0", "HV", "XX"}

_TRANSIENT_PYTHON = (OSError, asyncio.TimeoutError, KafkaConnectionError, KafkaTimeoutError,
                     asyncpg.exceptions.InternalClientError)  # OutdatedSchemaCacheError, ProtocolError
_OUR_CLIENT = (pg_base.ClientConfigurationError, pg_base.UnsupportedClientFeatureError,
               pg_base.UnsupportedServerFeatureError)


def sqlstate_of(exc: BaseException) -> str | None:
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) else None


def classify(exc: BaseException) -> Kind:
    """Which of the three kinds ``exc`` is (see the module docstring)."""
    if isinstance(exc, PermanentError):
        return "deterministic"
    if isinstance(exc, asyncpg.PostgresError):
        state = sqlstate_of(exc) or ""
        if state[:2] in TRANSIENT_SQLSTATE:
            return "transient"
        return "ours" if state[:2] in OUR_SQLSTATE else "deterministic"
    if isinstance(exc, pg_base.DataError):  # client side: a parameter asyncpg cannot encode (int > 2^63...)
        return "deterministic"
    if isinstance(exc, _OUR_CLIENT):
        return "ours"
    if isinstance(exc, asyncpg.InterfaceError):  # connection closed, pool closing, operation in progress
        return "transient"
    if isinstance(exc, _TRANSIENT_PYTHON):
        return "transient"
    if isinstance(exc, KafkaError):
        return "transient" if getattr(exc, "retriable", False) else "ours"
    return "deterministic"


def is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the message: retry the same batch until they pass."""
    return classify(exc) == "transient"


def is_our_fault(exc: BaseException) -> bool:
    return classify(exc) == "ours"


_QUERY_ARGUMENT = re.compile(r"query argument (\$\d+(?: in element #\d+ of executemany\(\) sequence)?)")


def error_name(exc: BaseException) -> str:
    """Class name, plus SQLSTATE and constraint when there are: safe for logs (no values)."""
    state, constraint = sqlstate_of(exc), getattr(exc, "constraint_name", None)
    if not state:
        return type(exc).__name__
    return f"{type(exc).__name__} (SQLSTATE {state}{f', constraint {constraint}' if constraint else ''})"


def failure_reason(exc: BaseException, stage: str) -> str:
    """A DLQ reason for ``exc`` raised at ``stage`` that contains no value of the message.

    ``PermanentError`` texts are written by us for the sender and are kept; for anything else only the
    class, SQLSTATE, names of the constraint/table/column/argument and the code location are used.
    """
    if isinstance(exc, PermanentError):
        return str(exc)
    argument = _QUERY_ARGUMENT.search(str(exc)) if isinstance(exc, (asyncpg.DataError, pg_base.DataError)) else None
    if argument is not None:  # raised by asyncpg itself, before the server saw the value
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "invalid"
        return (f"{stage} failed: a value cannot be stored in the database (query argument {argument.group(1)}: "
                f"{cause}; out of range or wrong type){_location(exc)}")
    if isinstance(exc, asyncpg.PostgresError):
        names = [f"{label} {value}" for label, value in (
            ("constraint", getattr(exc, "constraint_name", None)), ("table", getattr(exc, "table_name", None)),
            ("column", getattr(exc, "column_name", None)), ("type", getattr(exc, "data_type_name", None)))
            if value]
        where = f" on {', '.join(names)}" if names else ""
        return f"{stage} failed: the database refused it: {type(exc).__name__} (SQLSTATE {sqlstate_of(exc)}){where}"
    if isinstance(exc, pg_base.DataError):
        return f"{stage} failed: a value cannot be stored in the database (out of range or wrong type)" \
               f"{_location(exc)}"
    return f"{stage} failed: {type(exc).__name__}{_location(exc)}"


def _location(exc: BaseException) -> str:
    """`` at file.py:123 in function``: where our code raised (no values; helps find the bug)."""
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    ours = [f for f in frames if "/site-packages/" not in f.filename and f.filename.endswith(".py")] or frames
    if not ours:
        return ""
    frame = ours[-1]
    return f" at {'/'.join(frame.filename.split('/')[-2:])}:{frame.lineno} in {frame.name}"
