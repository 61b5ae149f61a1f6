"""The dispatcher's SQL on the notifications table: claim due rows, record outcomes, recover after a crash,
replay. Set-based: one statement per step for a whole batch (arrays through ``unnest``)."""
from __future__ import annotations

from datetime import datetime
from typing import Sequence

import asyncpg

# A channel's due pending rows, oldest due first, at most its limit; rows another dispatcher holds are skipped.
# The channel is a plain parameter (not a lateral join) so the planner uses notifications_due_by_channel: with
# 100,000 e-mails due, an SMS claim through the lateral form scanned them all (170 ms; EXPLAIN ANALYZE).
# The contact's SMS quiet hours come along (LEFT JOIN: a participant may have none).
CLAIM = """
SELECT n.id, n.event_id, n.participant_code, n.channel, n.type, n.recipient, n.subject, n.body, n.attempts,
       n.replays, n.triggered_at, c.quiet_from, c.quiet_until
FROM (SELECT * FROM notifications
      WHERE state = 'pending' AND channel = $1 AND next_attempt_at <= $2
      ORDER BY next_attempt_at LIMIT $3
      FOR UPDATE SKIP LOCKED) n
LEFT JOIN contacts c ON c.participant_code = n.participant_code
"""


async def claim(conn: asyncpg.Connection, channel: str, limit: int, now: datetime) -> list[asyncpg.Record]:
    """Lock due rows (call inside a transaction, then ``mark_sending`` / ``defer`` them)."""
    if limit <= 0:
        return []
    return await conn.fetch(CLAIM, channel, now, limit)


async def mark_sending(conn: asyncpg.Connection, ids: Sequence[int]) -> None:
    """Before any network call, in a transaction that commits first: a crash after this leaves `sending`."""
    await conn.execute("UPDATE notifications SET state = 'sending', attempts = attempts + 1, sending_at = now() "
                       "WHERE id = ANY($1::bigint[])", list(ids))


async def defer(conn: asyncpg.Connection, ids: Sequence[int], until: Sequence[datetime]) -> None:
    """Quiet hours: due again when they end; not an attempt."""
    await conn.execute("UPDATE notifications n SET next_attempt_at = u.at "
                       "FROM unnest($1::bigint[], $2::timestamptz[]) AS u(id, at) WHERE n.id = u.id",
                       list(ids), list(until))


RECORD = """
UPDATE notifications n SET
    state = u.state,
    next_attempt_at = COALESCE(u.next_at, n.next_attempt_at),
    last_error = NULLIF(u.error, ''),
    sent_at = CASE WHEN u.state = 'sent' THEN $5 ELSE n.sent_at END,
    failed_at = CASE WHEN u.state = 'failed' THEN $5 ELSE n.failed_at END
FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[]) AS u(id, state, next_at, error)
WHERE n.id = u.id AND n.state IN ('sending', 'uncertain')
"""


async def record(conn: asyncpg.Connection, ids: Sequence[int], states: Sequence[str],
                 next_at: Sequence[datetime | None], errors: Sequence[str], at: datetime) -> None:
    """What each attempt came to. A row another dispatcher recovered meanwhile (``uncertain``) takes the
    outcome we know, which is better information."""
    await conn.execute(RECORD, list(ids), list(states), list(next_at), list(errors), at)


RECOVER = """
UPDATE notifications SET state = CASE WHEN channel = ANY($1::text[]) THEN 'pending' ELSE 'uncertain' END,
                         last_error = 'interrupted'
WHERE state = 'sending'
RETURNING channel, type, state
"""


async def recover(conn: asyncpg.Connection, resend_channels: Sequence[str]) -> list[asyncpg.Record]:
    """Rows left `sending` by a dispatcher that died: sent again where the channel deduplicates
    (``resend_channels``), `uncertain` elsewhere. Only the lock holder calls it (no other is sending)."""
    return await conn.fetch(RECOVER, list(resend_channels))


async def states_by_channel(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Counts of the states an operator watches (pending: the queue; failed/uncertain: to review)."""
    # One branch per partial index (pending, sending, failed/uncertain): never a scan of the sent rows.
    return await conn.fetch(
        "SELECT channel, 'pending' AS state, count(*) AS n FROM notifications WHERE state = 'pending' GROUP BY channel "
        "UNION ALL SELECT channel, 'sending', count(*) FROM notifications WHERE state = 'sending' GROUP BY channel "
        "UNION ALL SELECT channel, state, count(*) FROM notifications WHERE state IN ('failed', 'uncertain') "
        "GROUP BY channel, state")


async def due_by_channel(conn: asyncpg.Connection, now: datetime) -> list[asyncpg.Record]:
    """Per channel: pending rows already due, and how long the oldest has been due (seconds)."""
    return await conn.fetch("SELECT channel, count(*) AS n, extract(epoch FROM $1 - min(next_attempt_at)) AS oldest "
                            "FROM notifications WHERE state = 'pending' AND next_attempt_at <= $1 GROUP BY channel",
                            now)
