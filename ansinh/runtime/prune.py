"""Pruning: the inbox and the published outbox lose rows no replay can need any more.

At 20 million declarations a month both tables would otherwise grow forever. A row may go once every copy
of its event that could still be delivered again has expired:

* an inbox row dedupes redeliveries of its event. A copy can sit on the consumed topic (its retention) and,
  once dead-lettered, in ``<topic>.dlq`` (``DLQ_RETENTION_MS``), from where ``ansinh dlq replay`` puts it
  back on the topic for another topic retention. So the claim is kept for the longest consumed topic's
  retention plus the DLQ's. Compacted topics keep each key's latest record forever: no retention can
  cover them, so their consumers must apply the latest record idempotently (contacts are upserts);
* published outbox rows are kept as long (what was sent, while its consumers may still see it again);
  unpublished rows are never pruned.

The default retention is that minimum plus ``MARGIN``; a configured retention below the minimum is refused
at start-up (``check_retention``). One pruner per schema runs at a time (an advisory lock), deleting in
batches of ``batch_size`` rows, each its own short transaction, so no long lock is held.
"""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import asyncpg

from ansinh.runtime.metrics import PRUNED
from schemas.topics import CATALOGUE, DLQ_RETENTION_MS, TopicSpec

log = logging.getLogger("ansinh.runtime.prune")
MARGIN = timedelta(days=2)  # clock skew, a replay started just before expiry, an operator's weekend
KAFKA_DEFAULT_RETENTION_MS = 7 * 24 * 3600 * 1000  # a delete-policy topic without retention.ms
DAY = timedelta(days=1)

# table -> DELETE of one batch of rows older than $1 ($2 rows at most). The cut-off is re-checked outside
# the sub-select, so a row is never deleted on a stale ctid. The outbox is walked in id order (its primary
# key): old published rows are the lowest ids, so no index on published_at is needed.
_BATCH_DELETE = {
    "inbox": "DELETE FROM {s}.inbox WHERE ctid = ANY(ARRAY(SELECT ctid FROM {s}.inbox WHERE processed_at < $1 "
             "LIMIT $2)) AND processed_at < $1",
    "outbox": "DELETE FROM {s}.outbox WHERE id = ANY(ARRAY(SELECT id FROM {s}.outbox WHERE published_at < $1 "
              "ORDER BY id LIMIT $2)) AND published_at < $1",
}


def _retention_ms(topic: TopicSpec) -> int | None:
    """How long ``topic`` keeps a record; None: forever (compacted, or retention.ms = -1)."""
    if "compact" in topic.config.get("cleanup.policy", "delete"):
        return None
    ms = int(topic.config.get("retention.ms", KAFKA_DEFAULT_RETENTION_MS))
    return None if ms < 0 else ms


def minimum_retention(service: str) -> timedelta:
    """The shortest retention that keeps every row a replay into ``service`` could still need."""
    consumed = [t for t in CATALOGUE if service in t.consumers and t.dlq]
    bounded = [ms for ms in map(_retention_ms, consumed) if ms is not None]
    if not bounded:
        return timedelta(0)
    return timedelta(milliseconds=max(bounded) + DLQ_RETENTION_MS)


def retention(service: str, days: float | None) -> timedelta:
    """The configured retention (``ANSINH_INBOX_RETENTION_DAYS``) or the minimum plus ``MARGIN``."""
    return timedelta(days=days) if days is not None else minimum_retention(service) + MARGIN


def check_retention(service: str, days: float | None) -> None:
    """Refuse a configured retention that would let a replay process an event a second time."""
    needed = minimum_retention(service)
    if days is not None and timedelta(days=days) < needed:
        raise ValueError(
            f"ANSINH_INBOX_RETENTION_DAYS={days:g} is too short for {service}: a replay may redeliver an event up "
            f"to {needed / DAY:g} days after it was processed (longest consumed topic's retention plus the DLQ's); "
            f"set at least {needed / DAY:g} or leave it unset for {(needed + MARGIN) / DAY:g}")


class Pruner:
    """Deletes, every ``interval_s``, inbox rows and published outbox rows older than ``keep``."""

    def __init__(self, pool: asyncpg.Pool, schema: str, service: str, keep: timedelta, interval_s: float = 600,
                 batch_size: int = 5000):
        self.pool, self.schema, self.service, self.keep = pool, schema, service, keep
        self.interval_s, self.batch_size = interval_s, batch_size

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await self.prune_once(stopping)
            except Exception as exc:  # noqa: BLE001 - pruning waits for the next round; it never stops the service
                log.warning("pruning %s failed (%s); next round in %.0f s", self.schema, type(exc).__name__,
                            self.interval_s)
            try:
                await asyncio.wait_for(stopping.wait(), self.interval_s)
            except asyncio.TimeoutError:
                pass

    async def prune_once(self, stopping: asyncio.Event | None = None) -> dict[str, int] | None:
        """One round: rows deleted per table; None when another process is pruning this schema."""
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"{self.schema}.prune"):
                return None
            try:
                cutoff = await conn.fetchval("SELECT now() - $1::interval", self.keep)
                return {table: await self._prune(conn, table, sql.format(s=self.schema), cutoff, stopping)
                        for table, sql in _BATCH_DELETE.items()}
            finally:
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"{self.schema}.prune")

    async def _prune(self, conn: asyncpg.Connection, table: str, sql: str, cutoff, stopping) -> int:
        total = 0
        while stopping is None or not stopping.is_set():
            deleted = int((await conn.execute(sql, cutoff, self.batch_size)).split()[-1])
            PRUNED.labels(self.service, table).inc(deleted)
            total += deleted
            if deleted < self.batch_size:
                break
            await asyncio.sleep(0)  # let the service's own work run between batches
        if total:
            log.info("pruned %d %s rows of %s older than %s", total, table, self.schema, cutoff.isoformat())
        return total
