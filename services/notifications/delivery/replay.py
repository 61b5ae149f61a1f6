"""The operators' side of delivery: a participant's history, the list to review, and replay (audited)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import asyncpg

from ansinh.runtime import auth
from services.notifications.domain.delivery_errors import NothingToReplay

SCHEMA = "notifications"
AUDIT_IDS_MAX = 1000  # the audit row names at most this many ids (and always the count)


async def history(conn: asyncpg.Connection, participant_code: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, type, channel, language, recipient, subject, body, state, attempts, last_error, triggered_at, "
        "created_at, sent_at, next_attempt_at FROM notifications WHERE participant_code = $1 "
        "ORDER BY created_at DESC, id DESC LIMIT $2", participant_code, limit)


async def to_review(conn: asyncpg.Connection, states: list[str], channel: str | None,
                    limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, type, channel, state, attempts, last_error, triggered_at, failed_at, replays FROM notifications "
        "WHERE state = ANY($1::text[]) AND ($2::text IS NULL OR channel = $2) ORDER BY id LIMIT $3",
        states, channel, limit)


@dataclass
class Replayed:
    replayed: list[int]
    not_replayable: list[int]
    by_channel: Counter = field(default_factory=Counter)


REPLAY = """
UPDATE notifications SET state = 'pending', attempts = 0, next_attempt_at = now(), replays = replays + 1,
                         last_error = NULL, failed_at = NULL
WHERE {where}
RETURNING id, channel
"""


async def replay(conn: asyncpg.Connection, principal: auth.Principal, ids: list[int] | None, all_failed: bool,
                 channel: str | None, reason: str) -> Replayed:
    """Failed or uncertain notifications back to pending, attempts from zero, with a new gateway key
    (``replays + 1``); one audit row in the same transaction. ``all_failed`` takes every failed one (of
    ``channel``), never the uncertain ones: each of those may already have arrived, an operator picks them."""
    if all_failed:
        rows = await conn.fetch(REPLAY.format(where="state = 'failed' AND ($1::text IS NULL OR channel = $1)"),
                                channel)
    else:
        rows = await conn.fetch(REPLAY.format(
            where="id = ANY($1::bigint[]) AND state IN ('failed', 'uncertain') AND ($2::text IS NULL OR channel = $2)"),
            ids, channel)
    done = sorted(r["id"] for r in rows)
    if not done:
        raise NothingToReplay("nothing to replay: none of the notifications asked for is failed or uncertain")
    result = Replayed(done, sorted(set(ids or ()) - set(done)), Counter(r["channel"] for r in rows))
    await auth.audit(conn, SCHEMA, principal, "notifications.replay", f"{len(done)} notifications", reason,
                     {"ids": done[:AUDIT_IDS_MAX], "count": len(done), "all_failed": all_failed, "channel": channel})
    return result
