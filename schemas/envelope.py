"""The envelope every event travels in, and its encoding (UTF-8 JSON)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from schemas.base import Message, Timestamp, WireUUID, ascii_code, bounded_int, text

MessageType = ascii_code("[A-Z][A-Za-z0-9]{0,63}", 64, "Message type, e.g. SalaryDeclared")
SchemaVersion = bounded_int(1, 999, "Version of the payload schema")


class EnvelopeHead(BaseModel):
    """Just enough of an envelope to pick the payload model."""

    model_config = ConfigDict(strict=True, extra="ignore")
    type: MessageType
    schema_version: SchemaVersion


class Envelope(BaseModel):
    """Metadata common to every event; ``payload`` is validated separately by its message model."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: WireUUID = Field(description="Unique id of this event; consumers deduplicate on it")
    type: MessageType
    schema_version: SchemaVersion
    occurred_at: Timestamp = Field(description="When it happened, with a timezone")
    producer: text(100) = Field(description="System that produced the event")
    correlation_id: WireUUID = Field(description="Id shared by every event of one business flow")
    causation_id: WireUUID | None = Field(default=None, description="Event id that caused this one")
    payload: dict[str, Any]


def envelope_head(event_type: str, schema_version: int, producer: str, *, event_id: UUID,
                  correlation_id: UUID | None = None, causation_id: UUID | None = None,
                  occurred_at: datetime | str | None = None) -> dict[str, Any]:
    """Every envelope field but the payload, JSON-ready (``occurred_at`` may come as an ISO string)."""
    if not isinstance(occurred_at, str):
        occurred_at = (occurred_at or datetime.now(timezone.utc)).isoformat()
    return {
        "event_id": str(event_id),
        "type": event_type,
        "schema_version": schema_version,
        "occurred_at": occurred_at,
        "producer": producer,
        "correlation_id": str(correlation_id or event_id),
        "causation_id": str(causation_id) if causation_id else None,
    }


def new_envelope(message: Message, producer: str, *, correlation_id: UUID | None = None,
                 causation_id: UUID | None = None, occurred_at: datetime | None = None,
                 event_id: UUID | None = None) -> dict[str, Any]:
    """Build the JSON-ready envelope of ``message`` (a dict, so encoding happens once)."""
    head = envelope_head(message.event_type, message.schema_version, producer, event_id=event_id or uuid4(),
                         correlation_id=correlation_id, causation_id=causation_id, occurred_at=occurred_at)
    return {**head, "payload": message.model_dump(mode="json")}


def encode(envelope: dict[str, Any]) -> bytes:
    import json

    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
