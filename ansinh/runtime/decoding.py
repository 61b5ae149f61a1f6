"""Decode raw bytes into an envelope and the payload model the topic allows, with readable reasons."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from uuid import NAMESPACE_URL, UUID, uuid5

from pydantic import ValidationError, create_model

from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from ansinh.runtime.inbox import content_digest
from ansinh.runtime.kafka_records import not_utf8
from schemas.base import Message
from schemas.envelope import Envelope, EnvelopeHead


@dataclass(frozen=True)
class Incoming:
    """A decoded message: the raw record (for DLQ), its envelope and its typed payload."""

    raw: RawMessage
    envelope: Envelope
    message: Message

    @cached_property
    def digest(self) -> bytes:
        """What this event says, hashed (``inbox.content_digest``): pass it to ``inbox.claim`` with the
        event id, so that the same id arriving with other content is refused instead of dropped."""
        return content_digest(self.envelope.type, self.message)


TOMBSTONE_DIGEST = b"\x00tombstone"  # what every tombstone says (nothing): a redelivery is a duplicate


@dataclass(frozen=True)
class Tombstone:
    """A record with a key and no value (a compacted topic's deletion of that key), handed to a consumer
    that asked for them (``consume(..., tombstones=True)``); every other consumer dead-letters it.

    It has no envelope, so its inbox id is derived from where it sits: ``uuid5(NAMESPACE_URL,
    "kafka:<topic>:<partition>:<offset>")`` with the topic as on the broker. A redelivery of the same
    record has the same id; another tombstone for the same key (another offset) is another event."""

    raw: RawMessage

    @cached_property
    def envelope(self) -> "TombstoneHead":
        """What the consume loop reads of any decoded message (ids for the inbox and the logs)."""
        event_id = uuid5(NAMESPACE_URL, f"kafka:{self.raw.topic}:{self.raw.partition}:{self.raw.offset}")
        return TombstoneHead(event_id, event_id)

    @property
    def digest(self) -> bytes:
        return TOMBSTONE_DIGEST


@dataclass(frozen=True)
class TombstoneHead:
    event_id: UUID
    correlation_id: UUID


# Error types whose message pydantic builds from the input itself (a tag, an attribute, an exception's
# text): replaced by a fixed wording, so that no value of the message reaches a reason.
_ECHOING = {"union_tag_invalid": "the type tag does not match any of the expected ones",
            "no_such_attribute": "unknown attribute", "get_attribute_error": "cannot read this attribute",
            "datetime_object_invalid": "invalid datetime", "iteration_error": "cannot iterate over this value",
            "mapping_type": "Input should be a valid mapping", "bytes_invalid_encoding": "invalid encoding",
            "value_error": "invalid value", "assertion_error": "invalid value"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem, naming the field and why, never its value:
    ``payload.region: Input should be less than or equal to 4``."""
    parts = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False)[:10]:
        where = ".".join(_place(p) for p in err["loc"]) or "<root>"
        parts.append(f"{prefix}{where}: {_ECHOING.get(err['type'], err['msg'])}")
    return "; ".join(parts)


def _place(part) -> str:
    """A location part: a list index or a field name; a key the sender made up is not repeated (it could
    be anything, a citizen id included)."""
    if isinstance(part, int):
        return str(part)
    return part if _NAME.fullmatch(str(part)) and not any(ch.isdigit() for ch in str(part)) else "<key>"


class Decoder:
    def __init__(self, messages: tuple[type[Message], ...], tombstones: bool = False):
        self.tombstones = tombstones  # a keyed record without a value decodes as a Tombstone (else refused)
        self.models = {(m.event_type, m.schema_version): m for m in messages}
        self.only = messages[0] if len(messages) == 1 else None
        self.only_key = (self.only.event_type, self.only.schema_version) if self.only else None

    def decode(self, raw: RawMessage) -> Incoming | Tombstone:
        """Raise ``DecodeError`` with an actionable reason for anything but a valid, known message (or, when
        asked for, a tombstone with a key)."""
        _check_headers(raw.headers)
        if raw.value is None and self.tombstones:
            if not raw.key:
                raise DecodeError("tombstone without a key: it deletes nothing", "invalid_envelope")
            return Tombstone(raw)
        if self.only is not None and raw.value is not None:
            # One strict pass for the common case: a topic carrying a single message type.
            try:
                envelope = _typed_envelope(self.only).model_validate_json(raw.value)
                if (envelope.type, envelope.schema_version) == self.only_key:
                    return Incoming(raw, envelope, envelope.payload)
            except ValidationError:
                pass  # the careful path below says precisely what is wrong
        return self._decode_carefully(raw)

    def _decode_carefully(self, raw: RawMessage) -> Incoming:
        if raw.value is None:
            raise DecodeError("empty message (tombstone): expected a JSON envelope", "invalid_envelope")
        try:
            head = EnvelopeHead.model_validate_json(raw.value)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise DecodeError(f"malformed JSON: {exc.errors()[0]['msg']}", "malformed_json") from exc
            raise DecodeError(f"not an envelope: {describe(exc)}", "invalid_envelope") from exc
        model = self.models.get((head.type, head.schema_version))
        if model is None:
            known = ", ".join(f"{t} v{v}" for t, v in sorted(self.models))
            named = repr(head.type) if _NAME.fullmatch(head.type) else "(not a type name)"
            raise DecodeError(f"unknown message type {named} v{head.schema_version} on this topic; "
                              f"expected one of: {known}", "unknown_type")
        try:
            envelope = _typed_envelope(model).model_validate_json(raw.value)
        except ValidationError as exc:
            raise DecodeError(f"invalid {head.type}: {describe(exc)}", "invalid_fields") from exc
        return Incoming(raw, envelope, envelope.payload)


def _check_headers(headers) -> None:
    """A header key that is not UTF-8 (delivered with lone surrogates by ``ansinh.runtime.kafka_records``)
    is refused: no consumer of ours could read it, and a replay could not write it back as it was."""
    for position, (key, _) in enumerate(headers):
        if not_utf8(key):
            raise DecodeError(f"header key is not UTF-8 (header {position + 1} of {len(headers)})",
                              "invalid_header")


_TYPED: dict[type, type[Envelope]] = {}


def _typed_envelope(model: type[Message]) -> type[Envelope]:
    """``Envelope`` with ``payload`` typed as ``model``: one strict JSON pass validates both."""
    if model not in _TYPED:
        _TYPED[model] = create_model(f"{model.__name__}Envelope", __base__=Envelope, payload=(model, ...))
    return _TYPED[model]
