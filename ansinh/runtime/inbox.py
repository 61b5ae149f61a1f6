"""The inbox: which events a consumer has already processed, and what they said.

Claim event ids inside the handler's transaction; only claimed ids may change state. A redelivered event
is not claimed again, so it changes nothing.

Each claim stores a digest of the event's content (``content_digest``, ``Incoming.digest``). An id that
comes back with the same digest is a redelivery: not claimed, changes nothing. An id that comes back with
a *different* digest is a producer reusing an id for another event (a payroll system restarting its
counter, a demo reseeded with the same ids): dropping it as a duplicate would lose money or declarations
without a trace, so ``claim`` raises ``EventIdReused`` naming it, and the consume loop dead-letters that
message alone (stage ``transaction``) and commits the rest of the batch. The first content stays.

A stored digest that is NULL (claimed by an id-only call, or before ``0005_inbox_digest.sql``) or made by
another version of the digest (first byte) is unknown: the redelivery is treated as a duplicate, as before.
See docs/runtime.md#same-id-different-content.
"""
from __future__ import annotations

import hashlib
from typing import Iterable, Sequence
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from ansinh.runtime.errors import EventIdReused

# The first byte says how the rest was computed: a later change of what counts as "the same content"
# gets a new version, and digests of the old one compare as unknown (duplicate) instead of as different.
DIGEST_VERSION = b"\x01"
DIGEST_SIZE = 16  # with the version byte: 120 bits of blake2b, compared only between claims of one id


def content_digest(event_type: str, payload: BaseModel) -> bytes:
    """What an event *says*, hashed: its type and its validated payload, as the payload model writes it
    (field order of the model, numbers and dates normalised, unknown fields dropped, fields left at their
    default omitted, so that adding an optional field to a contract changes no digest).

    Not hashed: ``occurred_at``, ``producer``, ``correlation_id``, ``causation_id``, ``schema_version``,
    the Kafka key and headers. They say how and when a copy was sent; a producer re-sending the same event
    may stamp them again, and it must still be a duplicate."""
    body = payload.__pydantic_serializer__.to_json(payload, exclude_defaults=True)
    return DIGEST_VERSION + hashlib.blake2b(event_type.encode() + b"\x00" + body,
                                            digest_size=DIGEST_SIZE - len(DIGEST_VERSION)).digest()


async def claim(conn: asyncpg.Connection, schema: str, consumer: str, event_ids: Iterable[UUID],
                digests: Iterable[bytes | None] | None = None) -> set[UUID]:
    """Record ``event_ids`` for ``consumer``; return those not seen before. Call inside a transaction.

    ``digests`` (one per id, in the same order; ``Incoming.digest``) makes a reused id loud: an id seen
    before, or earlier in ``event_ids``, with another digest raises ``EventIdReused`` naming every such
    (id, digest), and the transaction must not commit (the consume loop sets those messages aside).
    Without ``digests`` the ids are claimed with no digest, and any id seen before is a duplicate."""
    if digests is None:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()
        rows = await conn.fetch(
            f"INSERT INTO {schema}.inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) "
            "ON CONFLICT DO NOTHING RETURNING event_id", consumer, ids)
        return {row["event_id"] for row in rows}
    pairs = list(zip(event_ids, digests, strict=True))
    first: dict[UUID, bytes | None] = {}
    for event_id, digest in pairs:
        first.setdefault(event_id, digest)
    if not first:
        return set()
    rows = await conn.fetch(
        f"INSERT INTO {schema}.inbox (consumer, event_id, digest) SELECT $1, e, d "
        "FROM unnest($2::uuid[], $3::bytea[]) AS t(e, d) ON CONFLICT DO NOTHING RETURNING event_id",
        consumer, list(first), list(first.values()))
    new = {row["event_id"] for row in rows}
    kept = first  # what each id is known to say: its stored digest, else its first in this batch
    if len(new) < len(first):  # redeliveries (rare): compare with what the first delivery said
        kept = {**first, **await _stored(conn, schema, consumer, [i for i in first if i not in new])}
    if len(pairs) > len(first) or kept is not first:
        reused = list(dict.fromkeys((i, d) for i, d in pairs if _contradicts(kept[i], d)))
        if reused:
            raise EventIdReused(consumer, reused)
    return new


async def _stored(conn: asyncpg.Connection, schema: str, consumer: str, event_ids: list[UUID]) -> dict[UUID, bytes]:
    rows = await conn.fetch(f"SELECT event_id, digest FROM {schema}.inbox WHERE consumer = $1 "
                            "AND event_id = ANY($2::uuid[])", consumer, event_ids)
    return {r["event_id"]: r["digest"] for r in rows}


def _contradicts(stored: bytes | None, digest: bytes | None) -> bool:
    """Known to be different content: both digests present, of the same version, and not equal."""
    return (stored is not None and digest is not None and stored[:1] == digest[:1] and stored != digest)


async def unclaim(conn: asyncpg.Connection, schema: str, consumer: str, event_ids: UUID | Sequence[UUID]) -> None:
    """Withdraw claims made earlier in this transaction: a message refused after part of it was applied
    (its parts idempotent by their own keys) must be checked again in full when it is replayed.
    Give back only ids this transaction claimed (in ``claim``'s result): any other id's row is the
    record of an event processed before, and deleting it would let a redelivery apply that event twice."""
    ids = [event_ids] if isinstance(event_ids, UUID) else list(event_ids)
    if ids:
        await conn.execute(f"DELETE FROM {schema}.inbox WHERE consumer = $1 AND event_id = ANY($2::uuid[])",
                           consumer, ids)
