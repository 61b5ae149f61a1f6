"""What the core's integration tests share: events built and published as the other services publish them,
and the notifications table read back. The service runs with delivery off, so rows stay pending."""
from __future__ import annotations

from datetime import datetime, timezone

import asyncpg

from schemas import benefits
from schemas.envelope import encode, new_envelope
from tests.kafka_helpers import publish

# Delivery off (rows stay as the core made them); digests due at once and swept often.
CORE_ENV = {"ANSINH_DELIVERY_ENABLED": "false", "ANSINH_DIGEST_DELAY_S": "0", "ANSINH_DIGEST_SWEEP_S": "0.2"}
BANK = {"kind": "bank", "bank_bin": "970436", "account_number": "0011001234567", "account_name": "Lê Văn Cường"}


def envelope(message, at: datetime | None = None) -> bytes:
    return encode(new_envelope(message, "test", occurred_at=at or datetime.now(timezone.utc)))


def contact(code: str, at: datetime | None = None, **fields) -> bytes:
    return envelope(benefits.ContactDetailsChanged(participant_code=code, **fields), at)


async def send(isolated, topic: str, key: str, *values: bytes) -> None:
    await publish(isolated.bootstrap, isolated.topic(topic), [(key.encode(), v) for v in values])


async def rows(conn: asyncpg.Connection, participant: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch("""SELECT event_id, participant_code, channel, type, language, recipient, subject, body,
                                      state, attempts, triggered_at
                               FROM notifications.notifications WHERE $1::text IS NULL OR participant_code = $1
                               ORDER BY id""", participant)
