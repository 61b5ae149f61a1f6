"""The dispatcher: sends due notifications and records what happened, one batch at a time.

One dispatcher per schema sends at any moment: it holds a PostgreSQL advisory lock on its own connection
and does all its SQL on that session (like the outbox relay), so when its session dies the lock goes with
it and another replica (or the restarted process) takes over. Each channel has its own loop (a slow SMTP
relay never holds SMS back); their statements take turns on the session, their sends overlap. A batch is:

1. **claim** (one committed transaction): the channel's due `pending` rows, up to what its rate limit
   allows, ``FOR UPDATE SKIP LOCKED``; SMS inside the participant's quiet hours are
   deferred to the end of them; the rest become `sending` with ``attempts + 1``. Committed BEFORE any
   network call, so a crash during the sends leaves them `sending`;
2. **send** (adapters never raise: each message gets an Outcome);
3. **record** (one statement): sent; pending again with backoff and jitter (transient); failed (permanent,
   or the last attempt).

On taking the lock, rows still `sending` were left by a dispatcher that died between 1 and 3: SMS and push
are sent again with the same idempotency key (the gateway answers without sending twice); e-mail becomes
`uncertain` (SMTP has no such key: it may have gone), for an operator to replay or leave.
"""
from __future__ import annotations

import asyncio
import logging
import random
import time as monotonic
from collections import defaultdict
from datetime import datetime, timezone
from typing import Awaitable, Callable, Mapping

import asyncpg

from ansinh.runtime import failpoints
from ansinh.runtime.errors import failure_reason
from ansinh.runtime.retry import transient_retry
from services.notifications import metrics
from services.notifications.delivery import repository as repo
from services.notifications.delivery.channels import Channel, Message, idempotency_key
from services.notifications.delivery.settings import DeliverySettings
from services.notifications.domain.delivery import (
    RECOVERED_STATE, Bucket, Outcome, QuietHours, Verdict, after_attempt)

log = logging.getLogger("services.notifications.dispatcher")
LOCK_KEY = "notifications.dispatcher"
GAUGE_EVERY_S = 5.0


class Dispatcher:
    def __init__(self, settings: DeliverySettings, service: str, channels: Mapping[str, Channel],
                 connect: Callable[[], Awaitable[asyncpg.Connection]], rng: random.Random | None = None):
        self.settings = settings
        self.service = service
        self.channels = dict(channels)
        self.connect = connect
        self.rng = rng or random.Random()
        start = monotonic.monotonic()
        self.buckets = {c: Bucket.full(settings.rates.get(c, 0.0), start) for c in self.channels}
        self.default_quiet = settings.default_quiet_hours
        self._sql = asyncio.Lock()

    def now(self) -> datetime:
        """The clock of due times and quiet hours (fixed by ``ANSINH_DELIVERY_CLOCK`` in tests)."""
        return self.settings.delivery_clock or datetime.now(timezone.utc)

    async def run(self, stopping: asyncio.Event) -> None:
        """Until ``stopping``: take the lock, recover, send batches; on a lost session, start over."""
        while not stopping.is_set():
            # Last-resort guard: whatever escapes a session (a lost connection, a bug) ends it and starts
            # another after a backoff, counted and logged by the retry policy; the dispatcher never dies.
            async for attempt in transient_retry("dispatch", self.service, "notifications", stop_when=stopping,
                                                 retry_on="anything"):
                with attempt:
                    await self._session(stopping)

    async def _session(self, stopping: asyncio.Event) -> None:
        try:
            await self._work(stopping)
        except Exception as exc:
            # Class, SQLSTATE and code location only: a database error's text may quote a participant's data.
            log.error("dispatcher session ended: %s", failure_reason(exc, "dispatch"))
            raise

    async def _work(self, stopping: asyncio.Event) -> None:
        conn = await self.connect()
        halt = asyncio.Event()  # this session ends: stopping, or one of its loops failed
        watcher = asyncio.create_task(_chain(stopping, halt))
        try:
            if not await self._lock(conn, stopping):
                return
            await self._recover(conn)
            self._sql = asyncio.Lock()  # one session, one statement at a time; the sends overlap
            loops = [self._channel_loop(conn, c, halt) for c in self.channels] + [self._gauge_loop(conn, halt)]
            failures = [r for r in await asyncio.gather(*loops, return_exceptions=True) if isinstance(r, BaseException)]
            if failures:
                raise failures[0]
        finally:
            watcher.cancel()
            await conn.close()  # ends the session, and the lock with it

    async def _channel_loop(self, conn: asyncpg.Connection, channel: str, halt: asyncio.Event) -> None:
        """One loop per channel, so a slow SMTP relay never holds SMS back (and the other way round). On a
        failure the others finish the batch they are sending and record it, then the session ends."""
        try:
            while not halt.is_set():
                if not await self.dispatch_once(conn, channel):
                    await _wait(halt, self._idle_wait(channel))
        except BaseException:
            halt.set()
            raise

    async def _gauge_loop(self, conn: asyncpg.Connection, halt: asyncio.Event) -> None:
        try:
            while not halt.is_set():
                async with self._sql:
                    await self._refresh_gauges(conn)
                await _wait(halt, GAUGE_EVERY_S)
        except BaseException:
            halt.set()
            raise

    async def _lock(self, conn: asyncpg.Connection, stopping: asyncio.Event) -> bool:
        while not stopping.is_set():
            if await conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", LOCK_KEY):
                metrics.DISPATCHER_ACTIVE.set(1)
                return True
            metrics.DISPATCHER_ACTIVE.set(0)
            await _wait(stopping, 2.0)  # another dispatcher sends; take over if it goes
        return False

    async def _recover(self, conn: asyncpg.Connection) -> None:
        resend = [c for c, state in RECOVERED_STATE.items() if state == "pending"]
        rows = await repo.recover(conn, resend)
        for row in rows:
            metrics.RECOVERED.labels(row["channel"], row["state"]).inc()
        if rows:
            log.warning("recovered %d notifications left sending by a stopped dispatcher: %s", len(rows),
                        dict(_count((r["channel"], r["state"]) for r in rows)))

    async def dispatch_once(self, conn: asyncpg.Connection, channel: str) -> int:
        """Claim, send and record one batch of ``channel``; returns how many were sent on (0: nothing due)."""
        async with self._sql:
            batch = await self._claim(conn, channel)
        if not batch:
            return 0
        outcomes = await self._send(batch)
        failpoints.hit("notifications.after_send")  # tests: a crash between the send and its record
        async with self._sql:
            await self._record(conn, batch, outcomes)
        return len(batch)

    async def _claim(self, conn: asyncpg.Connection, channel: str) -> list[asyncpg.Record]:
        clock, now = monotonic.monotonic(), self.now()
        limit = min(self.settings.delivery_batch, self.buckets[channel].available(clock))
        async with conn.transaction():
            rows = await repo.claim(conn, channel, limit, now)
            quiet, due = [], []
            for row in rows:
                until = self._quiet_until(row, now)
                (quiet if until else due).append((row, until))
            if quiet:
                await repo.defer(conn, [r["id"] for r, _ in quiet], [u for _, u in quiet])
                metrics.DEFERRED.labels(channel).inc(len(quiet))
            if due:
                await repo.mark_sending(conn, [r["id"] for r, _ in due])
        self.buckets[channel] = self.buckets[channel].take(len(due), clock)
        return [r for r, _ in due]

    def _quiet_until(self, row: asyncpg.Record, now: datetime) -> datetime | None:
        if row["channel"] != "sms":
            return None
        quiet = (QuietHours(row["quiet_from"], row["quiet_until"]) if row["quiet_from"] is not None
                 else self.default_quiet)
        return quiet.until(now)

    async def _send(self, batch: list[asyncpg.Record]) -> dict[int, Outcome]:
        by_channel: dict[str, list[Message]] = defaultdict(list)
        for row in batch:
            by_channel[row["channel"]].append(Message(
                row["id"], row["channel"], row["type"], row["recipient"], row["subject"], row["body"],
                idempotency_key(row["event_id"], row["participant_code"], row["channel"], row["replays"])))
        results = await asyncio.gather(*(self.channels[c].send(ms) for c, ms in by_channel.items()))
        return {m.notification_id: o for ms, outcomes in zip(by_channel.values(), results)
                for m, o in zip(ms, outcomes)}

    async def _record(self, conn: asyncpg.Connection, batch: list[asyncpg.Record],
                      outcomes: dict[int, Outcome]) -> None:
        now, policy = self.now(), self.settings.retry_policy
        after = {r["id"]: after_attempt(outcomes[r["id"]], r["attempts"] + 1, now, policy, self.rng.random())
                 for r in batch}
        ids = list(after)
        at = datetime.now(timezone.utc)
        columns = ([a.state for a in after.values()], [a.next_attempt_at for a in after.values()],
                   [a.reason for a in after.values()])
        async for attempt in transient_retry("record", self.service, "notifications"):
            with attempt:  # the sends happened: record them, on a new session if ours is gone
                if not conn.is_closed():
                    await repo.record(conn, ids, *columns, at)
                else:
                    fresh = await self.connect()
                    try:
                        await repo.record(fresh, ids, *columns, at)
                    finally:
                        await fresh.close()
        for row in batch:
            self._tally(row, outcomes[row["id"]], after[row["id"]].state, at)

    @staticmethod
    def _tally(row: asyncpg.Record, outcome: Outcome, state: str, at: datetime) -> None:
        channel, kind = row["channel"], row["type"]
        metrics.ATTEMPTS.labels(channel, outcome.verdict.value).inc()
        if state == "sent":
            metrics.SENT.labels(channel, kind).inc()
            metrics.LATENCY.labels(channel).observe(max((at - row["triggered_at"]).total_seconds(), 0.0))
        elif state == "failed":
            reason = "permanent" if outcome.verdict is Verdict.PERMANENT else "exhausted"
            metrics.FAILED.labels(channel, kind, reason).inc()

    async def _refresh_gauges(self, conn: asyncpg.Connection) -> None:
        seen = {(r["channel"], r["state"]): r["n"] for r in await repo.states_by_channel(conn)}
        due = {r["channel"]: r for r in await repo.due_by_channel(conn, self.now())}
        for channel in ("email", "sms", "push"):
            for state in ("pending", "sending", "failed", "uncertain"):
                metrics.IN_STATE.labels(channel, state).set(seen.get((channel, state), 0))
            metrics.DUE.labels(channel).set(due[channel]["n"] if channel in due else 0)
            metrics.OLDEST_DUE.labels(channel).set(max(float(due[channel]["oldest"]), 0.0) if channel in due else 0)

    def _idle_wait(self, channel: str) -> float:
        """Nothing was claimed: poll again soon, or when the channel's rate limit has a token again."""
        return max(self.settings.delivery_poll_s, self.buckets[channel].wait(monotonic.monotonic()))


def _count(items) -> dict:
    counts: dict = defaultdict(int)
    for item in items:
        counts[item] += 1
    return counts


async def _chain(source: asyncio.Event, target: asyncio.Event) -> None:
    await source.wait()
    target.set()


async def _wait(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass
