"""The runtime's view of failures: permanent ones go to the DLQ, transient ones are retried."""
from __future__ import annotations

import asyncio

import asyncpg


class PermanentError(Exception):
    """Retrying cannot help: the message is wrong. Its text is the DLQ reason, so make it actionable."""


class DecodeError(PermanentError):
    """The bytes are not a valid envelope or payload for this topic."""


TRANSIENT = (OSError, asyncio.TimeoutError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError,
             asyncpg.DeadlockDetectedError, asyncpg.SerializationError, asyncpg.TooManyConnectionsError,
             asyncpg.CannotConnectNowError)


def is_transient(exc: BaseException) -> bool:
    """Errors of the infrastructure, not of the message: retry the same batch until they pass."""
    return isinstance(exc, TRANSIENT)
