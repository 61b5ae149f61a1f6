"""The transactional outbox and its relay.

Handlers ``append`` the events they emit in the same transaction as their state change. The relay reads
unpublished rows in id order, publishes them with an idempotent producer (per-key order is kept because
one relay per schema publishes in id order and the producer keeps order per partition), then marks them
published. A crash after the commit and before the publish only delays the event; a crash after the
publish and before the mark republishes it with the same event id, which consumers deduplicate.
"""
from __future__ import annotations

import asyncio
from collections import Counter
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Sequence
from uuid import UUID, uuid4

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from ansinh.runtime import failpoints
from ansinh.runtime.metrics import OUTBOX_LAG, OUTBOX_PENDING, OUTBOX_PUBLISHED
from schemas.base import Message
from schemas.envelope import envelope_head

log = logging.getLogger("ansinh.runtime.outbox")


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


class OutboxRelay:
    """Publishes one schema's outbox. Only one relay per schema runs at a time (advisory lock)."""

    def __init__(self, pool: asyncpg.Pool, schema: str, producer: AIOKafkaProducer,
                 physical_topic: Callable[[str], str], service: str, batch_size: int = 5000):
        self.pool, self.schema, self.producer = pool, schema, producer
        self.physical_topic, self.service, self.batch_size = physical_topic, service, batch_size
        self._wakeup = asyncio.Event()
        self._partitions: dict[str, list[int]] = {}
        self._partitioner = DefaultPartitioner()
        self._partition_of: dict[tuple[str, bytes], int] = {}

    async def run(self, stopping: asyncio.Event) -> None:
        """Publish until ``stopping`` is set; waits on NOTIFY (or 1 s) when there is nothing to do."""
        async with self.pool.acquire() as lock_conn:
            while not stopping.is_set():
                if await lock_conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", f"{self.schema}.outbox"):
                    break
                await _sleep_or_stop(stopping, 2.0)  # another instance is the active relay
            await lock_conn.add_listener(f"{self.schema}_outbox", self._on_notify)
            try:
                while not stopping.is_set():
                    try:
                        published = await self.publish_pending()
                    except (OSError, asyncpg.PostgresConnectionError, asyncio.TimeoutError) as exc:
                        log.warning("outbox relay of %s: %s; retrying", self.schema, exc)
                        published = 0
                        await asyncio.sleep(1)
                    if published < self.batch_size:
                        self._wakeup.clear()
                        await _first_of(stopping, self._wakeup, timeout=1.0)
            finally:
                await lock_conn.remove_listener(f"{self.schema}_outbox", self._on_notify)
                await lock_conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"{self.schema}.outbox")

    def _on_notify(self, *_: Any) -> None:
        self._wakeup.set()

    async def publish_pending(self) -> int:
        """Publish one batch of unpublished events in id order; returns how many."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT id, topic, key, value, headers, created_at FROM {self.schema}.outbox "
                f"WHERE published_at IS NULL ORDER BY id LIMIT $1", self.batch_size)
            if not rows:
                OUTBOX_PENDING.labels(self.service).set(0)
                return 0
            failpoints.hit("outbox.after_fetch")
            await self._send_in_batches(rows)
            failpoints.hit("outbox.after_publish")
            await conn.execute(f"UPDATE {self.schema}.outbox SET published_at = now() WHERE id = ANY($1::bigint[])",
                               [row["id"] for row in rows])
        now = datetime.now(timezone.utc)
        for topic, count in Counter(row["topic"] for row in rows).items():
            OUTBOX_PUBLISHED.labels(self.service, topic).inc(count)
        OUTBOX_LAG.labels(self.service).observe((now - rows[0]["created_at"]).total_seconds())
        return len(rows)

    async def _send_in_batches(self, rows) -> None:
        """Append records straight into per-partition batches (aiokafka's ``send`` costs a future and a
        lookup per record); partitions are chosen as the producer's default partitioner does (murmur2 of
        the key), so a key always lands on the same partition and keeps its order."""
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
                futures.append(await self.producer.send_batch(current[-1], topic, partition=partition))
                current.append(self.producer.create_batch())
                current[-1].append(key=row["key"], value=row["value"], timestamp=None, headers=headers)
        for (topic, partition), builders in batches.items():
            futures.append(await self.producer.send_batch(builders[-1], topic, partition=partition))
        await asyncio.gather(*futures)

    async def prune(self, older_than_s: float = 86400) -> int:
        """Delete rows published more than ``older_than_s`` ago (they are kept a day for audit)."""
        result = await self.pool.execute(
            f"DELETE FROM {self.schema}.outbox WHERE published_at < now() - make_interval(secs => $1)",
            older_than_s)
        return int(result.split()[-1])


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
