"""Decode raw bytes into an envelope and the payload model the topic allows, with readable reasons."""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError, create_model

from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from schemas.base import Message
from schemas.envelope import Envelope, EnvelopeHead


@dataclass(frozen=True)
class Incoming:
    """A decoded message: the raw record (for DLQ), its envelope and its typed payload."""

    raw: RawMessage
    envelope: Envelope
    message: Message


def describe(exc: ValidationError, prefix: str = "") -> str:
    """One line per problem: ``payload.region: Input should be less than or equal to 4 (got 7)``."""
    parts = []
    for err in exc.errors(include_url=False)[:10]:
        where = ".".join(str(p) for p in err["loc"]) or "<root>"
        got = err.get("input")
        shown = "" if isinstance(got, (dict, list)) or got is None else f" (got {got!r:.60})"
        parts.append(f"{prefix}{where}: {err['msg']}{shown}")
    return "; ".join(parts)


class Decoder:
    def __init__(self, messages: tuple[type[Message], ...]):
        self.models = {(m.event_type, m.schema_version): m for m in messages}
        self.only = messages[0] if len(messages) == 1 else None
        self.only_key = (self.only.event_type, self.only.schema_version) if self.only else None

    def decode(self, raw: RawMessage) -> Incoming:
        """Raise ``DecodeError`` with an actionable reason for anything but a valid, known message."""
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
            raise DecodeError("empty message (tombstone): expected a JSON envelope")
        try:
            head = EnvelopeHead.model_validate_json(raw.value)
        except ValidationError as exc:
            if any(e["type"] == "json_invalid" for e in exc.errors()):
                raise DecodeError(f"malformed JSON: {exc.errors()[0]['msg']}") from exc
            raise DecodeError(f"not an envelope: {describe(exc)}") from exc
        model = self.models.get((head.type, head.schema_version))
        if model is None:
            known = ", ".join(f"{t} v{v}" for t, v in sorted(self.models))
            raise DecodeError(f"unknown message type {head.type!r} v{head.schema_version} on this topic; "
                              f"expected one of: {known}")
        try:
            envelope = _typed_envelope(model).model_validate_json(raw.value)
        except ValidationError as exc:
            raise DecodeError(f"invalid {head.type}: {describe(exc)}") from exc
        return Incoming(raw, envelope, envelope.payload)


_TYPED: dict[type, type[Envelope]] = {}


def _typed_envelope(model: type[Message]) -> type[Envelope]:
    """``Envelope`` with ``payload`` typed as ``model``: one strict JSON pass validates both."""
    if model not in _TYPED:
        _TYPED[model] = create_model(f"{model.__name__}Envelope", __base__=Envelope, payload=(model, ...))
    return _TYPED[model]
