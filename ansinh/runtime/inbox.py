"""The inbox: which events a consumer has already processed.

Claim event ids inside the handler's transaction; only claimed ids may change state. A redelivered event
is not claimed again, so it changes nothing.
"""
from __future__ import annotations

from typing import Iterable
from uuid import UUID

import asyncpg


async def claim(conn: asyncpg.Connection, schema: str, consumer: str, event_ids: Iterable[UUID]) -> set[UUID]:
    """Record ``event_ids`` for ``consumer``; return those not seen before. Call inside a transaction."""
    ids = list(dict.fromkeys(event_ids))
    if not ids:
        return set()
    rows = await conn.fetch(
        f"INSERT INTO {schema}.inbox (consumer, event_id) SELECT $1, unnest($2::uuid[]) "
        "ON CONFLICT DO NOTHING RETURNING event_id", consumer, ids)
    return {row["event_id"] for row in rows}


async def unclaim(conn: asyncpg.Connection, schema: str, consumer: str, event_id: UUID) -> None:
    """Withdraw a claim made earlier in this transaction: a message refused after part of it was applied
    (its parts idempotent by their own keys) must be checked again in full when it is replayed."""
    await conn.execute(f"DELETE FROM {schema}.inbox WHERE consumer = $1 AND event_id = $2", consumer, event_id)
