"""The transactional outbox and its relay.

Handlers ``append`` the events they emit in the same transaction as their state change. The relay reads
unpublished rows in id order, publishes them with an idempotent producer, then marks them published. A
crash after the commit and before the publish only delays the event; a crash after the publish and before
the mark republishes it with the same event id, which consumers deduplicate.

**One relay per schema.** Only the session holding the schema's advisory lock publishes, and it fetches and
marks on that same session (``OutboxRelay``); ``ansinh outbox flush`` takes the same lock. A relay whose
session ends hands the producer nothing more and waits for the lock again. The one window left: a batch
already handed to the producer when the session ended may still reach the broker after another relay took
over. That costs duplicates (same event ids), never order: both relays send the unpublished rows from the
oldest on, so each event's first copy on the topic still comes in id order.

**Per-key order.** Ids are ``bigserial``: under concurrent transactions a lower id can commit after a higher
one was published. For two different keys that is harmless (Kafka orders nothing across keys). For one key
it cannot happen as long as the transactions writing that key's events are serialized and append at the
end, after taking the lock: the second writer draws its ids only after the first has committed. In
collection an employer's declarations come from one partition, one transaction at a time, and the money
paths lock the employer row (``repository.lock_employers``) before ``append``. A new producer of events
must keep that rule: serialize a key's writers (lock its row first), append last.
"""
from __future__ import annotations

import asyncio
from collections import Counter
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from contextlib import asynccontextmanager
from typing import Any, Awaitable, Callable, Sequence
from uuid import UUID, uuid4

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from ansinh.runtime import failpoints, health
from ansinh.runtime.errors import error_name, failure_reason
from ansinh.runtime.metrics import (OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_PUBLISHED, RELAY_ACTIVE,
                                    RELAY_LOCK_LOST)
from ansinh.runtime.retry import key as retry_key, transient_retry
from schemas.base import Message
from schemas.envelope import envelope_head

log = logging.getLogger("ansinh.runtime.outbox")
RELAY_OPERATION = "outbox relay"  # how the relay is named in retries and in /ready


@dataclass(frozen=True)
class OutboxMessage:
    event_id: UUID
    topic: str
    key: bytes | None
    value: bytes
    headers: dict[str, str] | None = None


def event(topic: str, key: str, message: Message, producer: str, *, correlation_id: UUID | None = None,
          causation_id: UUID | None = None, event_id: UUID | None = None) -> OutboxMessage:
    """Wrap ``message`` in an envelope for ``topic`` (a catalogue name; the relay adds any prefix)."""
    return event_from_dict(topic, key, type(message), message.model_dump(mode="json"), producer,
                           correlation_id=correlation_id, causation_id=causation_id, event_id=event_id)


def event_from_dict(topic: str, key: str, message_type: type[Message], payload: dict, producer: str, *,
                    correlation_id: UUID | None = None, causation_id: UUID | None = None,
                    event_id: UUID | None = None, occurred_at: str | None = None) -> OutboxMessage:
    """Like ``event`` for hot paths: ``payload`` is a plain dict shaped like ``message_type`` (one orjson
    call, no model validation; the caller's tests must decode what it builds with the model)."""
    eid = event_id or uuid4()
    envelope = envelope_head(message_type.event_type, message_type.schema_version, producer, event_id=eid,
                             correlation_id=correlation_id, causation_id=causation_id, occurred_at=occurred_at)
    envelope["payload"] = payload
    return OutboxMessage(eid, topic, key.encode(), orjson.dumps(envelope),
                         {"type": message_type.event_type, "correlation_id": envelope["correlation_id"]})


async def append(conn: asyncpg.Connection, schema: str, messages: Sequence[OutboxMessage]) -> None:
    """Write ``messages`` to the outbox; call inside the handler's transaction."""
    if not messages:
        return
    records = [(m.event_id, m.topic, m.key, m.value, orjson.dumps(m.headers).decode() if m.headers else None)
               for m in messages]
    if len(records) > 50:
        await conn.copy_records_to_table("outbox", schema_name=schema, records=records,
                                         columns=("event_id", "topic", "key", "value", "headers"))
    else:
        await conn.executemany(f"INSERT INTO {schema}.outbox (event_id, topic, key, value, headers) "
                               "VALUES ($1, $2, $3, $4, $5::jsonb)", records)
    await conn.execute(f"NOTIFY {schema}_outbox")


class LockLost(ConnectionError):
    """The relay's database session ended, and its advisory lock with it: stop publishing, re-acquire.

    A ``ConnectionError`` (an ``OSError``), so the runtime's retry policy treats it as the transient fault it is.
    """


@dataclass(frozen=True)
class Flushed:
    """What ``OutboxRelay.flush`` did: events published, or who holds the lock when another relay is active."""

    published: int
    active_relay: str | None = None


class OutboxRelay:
    """Publishes one schema's outbox; only the holder of the schema's relay lock publishes.

    The lock is a session-level advisory lock on one connection, and every cycle (fetch, publish, mark) runs
    on that same connection: a fetch that succeeds proves the session, and so the lock, is still ours. When
    the session ends (connection lost, backend terminated) the relay stops before handing the producer
    another batch, drops the connection and waits for the lock again on a new one. Waiting happens in the
    server (``pg_advisory_lock`` under a short ``lock_timeout``), so a waiting relay takes over the moment
    the holder's session ends, and relays queue in arrival order.
    """

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], schema: str,
                 producer: AIOKafkaProducer, physical_topic: Callable[[str], str], service: str,
                 batch_size: int = 5000, lock_wait_s: float = 1.0, session_timeout_s: float = 120):
        self.connect, self.schema, self.producer = connect, schema, producer
        self.physical_topic, self.service, self.batch_size = physical_topic, service, batch_size
        self.lock_key, self.lock_wait_s = f"{schema}.outbox", lock_wait_s
        self.session_timeout_s = session_timeout_s
        self._wakeup = asyncio.Event()
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        self._partition_of: dict[tuple[str, bytes], int] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set: wait for the lock, publish while holding it, and after a lost
        connection (or a broker fault) start again from waiting for the lock, under the runtime's retry policy."""
        while not stopping.is_set():
            try:
                async for attempt in transient_retry(RELAY_OPERATION, self.service, self.lock_key,
                                                     hold_on_our_fault=True, stop_when=stopping):
                    with attempt:
                        await self._hold_and_publish(stopping)
            except Exception as exc:  # noqa: BLE001 - a dead relay would publish nothing while looking healthy
                if stopping.is_set():
                    return
                health.of(self.service).failing(retry_key(RELAY_OPERATION, self.lock_key), error_name(exc))
                log.error("%s; trying again in 10 s", failure_reason(exc, f"outbox relay of {self.schema}"))
                await _sleep_or_stop(stopping, 10.0)

    async def _hold_and_publish(self, stopping: asyncio.Event) -> None:
        async with self._session() as conn:
            # Connected again: nothing is failing any more, even if another relay holds the lock for good.
            health.of(self.service).recovered(retry_key(RELAY_OPERATION, self.lock_key))
            while not stopping.is_set():
                if await self._lock(conn, self.lock_wait_s):
                    break
            else:
                return
            RELAY_ACTIVE.labels(self.service).set(1)
            channel = f"{self.schema}_outbox"
            lost = lambda _conn: self._wakeup.set()  # noqa: E731 - wake the loop so the next fetch fails fast
            conn.add_termination_listener(lost)
            await conn.add_listener(channel, self._on_notify)
            try:
                while not stopping.is_set():
                    self._wakeup.clear()
                    if await self.publish_pending(conn) < self.batch_size:
                        await _first_of(stopping, self._wakeup, timeout=1.0)
                await conn.remove_listener(channel, self._on_notify)
                await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", self.lock_key)
            except Exception as exc:
                if conn.is_closed():
                    RELAY_LOCK_LOST.labels(self.service).inc()
                    log.warning("outbox relay of %s lost its database session (and the relay lock): stopped "
                                "publishing until it holds the lock again", self.schema)
                    raise LockLost(f"relay lock of {self.schema} lost") from exc
                raise
            finally:
                RELAY_ACTIVE.labels(self.service).set(0)
                conn.remove_termination_listener(lost)

    @asynccontextmanager
    async def _session(self):
        """A connection of the relay's own (not pooled); closing it ends the session and any lock it held."""
        conn = await self.connect()
        try:
            if conn.get_server_version().major >= 14:
                # A relay that freezes or is cut off without its connection closing must not keep the lock
                # until TCP keepalives notice (hours): the server ends a session silent for this long.
                await conn.execute(f"SET idle_session_timeout = '{int(self.session_timeout_s * 1000)}ms'")
            yield conn
        finally:
            if not conn.is_closed():
                try:
                    await conn.close(timeout=5)
                except Exception:  # noqa: BLE001 - the session must end either way
                    conn.terminate()

    async def _lock(self, conn: asyncpg.Connection, wait_s: float) -> bool:
        """Wait up to ``wait_s`` for the relay lock (in the server, first come first served)."""
        try:
            async with conn.transaction():  # a session lock taken in a transaction outlives its commit
                await conn.execute(f"SET LOCAL lock_timeout = '{max(1, int(wait_s * 1000))}ms'")
                await conn.execute("SELECT pg_advisory_lock(hashtext($1))", self.lock_key)
            return True
        except asyncpg.LockNotAvailableError:
            return False

    async def flush(self, wait_s: float = 5.0) -> Flushed:
        """Publish everything pending when the flush starts, holding the relay lock; when another relay keeps
        the lock for ``wait_s``, publish nothing and say who holds it (that relay publishes the outbox).
        Events committed after the start are left to the relay: with writers still running, a flush that
        chased them would never end."""
        async with self._session() as conn:
            if not await self._lock(conn, wait_s):
                return Flushed(0, await self.lock_holder(conn) or "another relay")
            try:
                total = 0
                up_to = await conn.fetchval(f"SELECT max(id) FROM {self.schema}.outbox WHERE published_at IS NULL")
                while up_to is not None and (published := await self.publish_pending(conn, up_to)):
                    total += published
                return Flushed(total)
            finally:
                if not conn.is_closed():
                    await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", self.lock_key)

    async def lock_holder(self, conn: asyncpg.Connection) -> str | None:
        """The application name, client and pid of the session holding the relay lock, if any."""
        row = await conn.fetchrow(
            "SELECT a.pid, a.application_name, a.client_addr FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) AND l.objsubid = 1 "
            "AND l.objid::bigint = (hashtext($1)::bigint & 4294967295)", self.lock_key)
        if row is None:
            return None
        return f"{row['application_name'] or 'a session'} (pid {row['pid']}, client {row['client_addr'] or 'local'})"

    def _on_notify(self, *_: Any) -> None:
        self._wakeup.set()

    async def publish_pending(self, conn: asyncpg.Connection, up_to: int | None = None) -> int:
        """One cycle on ``conn``, the connection holding the relay lock: publish a batch of unpublished
        events in id order (ids up to ``up_to`` only, when given) and mark them; returns how many."""
        rows = await conn.fetch(
            f"SELECT id, topic, key, value, headers, created_at FROM {self.schema}.outbox "
            f"WHERE published_at IS NULL AND id <= $2 ORDER BY id LIMIT $1", self.batch_size,
            up_to if up_to is not None else 2**63 - 1)
        if not rows:
            OUTBOX_PENDING.labels(self.service).set(0)
            return 0
        failpoints.hit("outbox.after_fetch")
        await self._send_in_batches(rows, conn)
        failpoints.hit("outbox.after_publish")
        await conn.execute(f"UPDATE {self.schema}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                           [row["id"] for row in rows])
        now = datetime.now(timezone.utc)
        for topic, count in Counter(row["topic"] for row in rows).items():
            OUTBOX_PUBLISHED.labels(self.service, topic).inc(count)
        OUTBOX_LAG.labels(self.service).observe((now - rows[0]["created_at"]).total_seconds())
        return len(rows)

    async def _send_in_batches(self, rows, conn: asyncpg.Connection) -> None:
        """Append records straight into per-partition batches (aiokafka's ``send`` costs a future and a
        lookup per record); partitions are chosen as the producer's default partitioner does (murmur2 of
        the key), so a key always lands on the same partition and keeps its order. Before each batch goes
        to the producer, ``conn`` (the lock's session) must still be open: a relay that lost its lock
        hands the producer nothing more."""
        batches: dict[tuple[str, int], list] = {}
        futures = []
        for row in rows:
            topic = self.physical_topic(row["topic"])
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = self._partitions[topic] = sorted(await self.producer.partitions_for(topic))
            partition = self._partition_of.get((topic, row["key"]))
            if partition is None:  # murmur2 in Python costs ~2 us; keys (employers, banks) repeat
                if len(self._partition_of) > 200_000:
                    self._partition_of.clear()
                partition = self._partition_of[(topic, row["key"])] = self._partitioner(row["key"], partitions,
                                                                                        partitions)
            headers = [(k, str(v).encode()) for k, v in orjson.loads(row["headers"]).items()] if row["headers"] else []
            current = batches.get((topic, partition))
            if current is None:
                current = batches[(topic, partition)] = [self.producer.create_batch()]
            if current[-1].append(key=row["key"], value=row["value"], timestamp=None, headers=headers) is None:
                _check_session(conn, self.schema)
                futures.append(await self.producer.send_batch(current[-1], topic, partition=partition))
                current.append(self.producer.create_batch())
                current[-1].append(key=row["key"], value=row["value"], timestamp=None, headers=headers)
        for (topic, partition), builders in batches.items():
            _check_session(conn, self.schema)
            futures.append(await self.producer.send_batch(builders[-1], topic, partition=partition))
        await asyncio.gather(*futures)


def _check_session(conn: asyncpg.Connection, schema: str) -> None:
    if conn.is_closed():
        raise LockLost(f"relay lock of {schema} lost: its database session ended")


async def _sleep_or_stop(stopping: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stopping.wait(), seconds)
    except asyncio.TimeoutError:
        pass


async def _first_of(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    tasks = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()


def new_producer(bootstrap: str, **overrides: Any) -> AIOKafkaProducer:
    """The idempotent producer every service uses (acks=all, ordered per partition)."""
    options = dict(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5,
                   max_batch_size=512 * 1024, max_request_size=1048576, request_timeout_ms=30000)
    options.update(overrides)
    return AIOKafkaProducer(**options)
