"""The load generator's Kafka side, shared by every run so each is measured the same way."""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

CHUNK = 5000  # messages per round of sends: keeps topics interleaved in publish order


async def publish_all(bootstrap: str, topic: str | Callable[[str], str], items: Iterable[tuple],
                      on_progress: Callable[[int], None] | None = None) -> None:
    """Publish ``items`` in order with an idempotent producer (acks=all), partitioned by key as the
    default partitioner does.

    Items are ``(key, value)`` for one ``topic`` or ``(logical topic, key, value)`` with ``topic`` a
    function naming the physical topic. Records go straight into per-partition batches
    (``create_batch``/``send_batch``): ``send`` costs a future per record and would make the load
    generator, not the system, the bottleneck.
    """
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=1024 * 1024)
    name = topic if callable(topic) else (lambda _: topic)
    partitioner, partitions = DefaultPartitioner(), {}
    await producer.start()
    try:
        sent, chunk = 0, []
        for item in items:
            chunk.append(item if len(item) == 3 else (None, *item))
            if len(chunk) >= CHUNK:
                await _send_chunk(producer, name, chunk, partitioner, partitions)
                sent += len(chunk)
                chunk.clear()
                if on_progress:
                    on_progress(sent)
        await _send_chunk(producer, name, chunk, partitioner, partitions)
        if on_progress:
            on_progress(sent + len(chunk))
    finally:
        await producer.stop()


async def _send_chunk(producer: AIOKafkaProducer, name, chunk: Sequence[tuple], partitioner, partitions) -> None:
    batches: dict[tuple[str, int], object] = {}
    futures = []
    for logical, key, value in chunk:
        topic = name(logical)
        if topic not in partitions:
            partitions[topic] = sorted(await producer.partitions_for(topic))
        partition = partitioner(key, partitions[topic], partitions[topic])
        batch = batches.get((topic, partition))
        if batch is None:
            batch = batches[(topic, partition)] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
            futures.append(await producer.send_batch(batch, topic, partition=partition))
            batch = batches[(topic, partition)] = producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
    for (topic, partition), batch in batches.items():
        futures.append(await producer.send_batch(batch, topic, partition=partition))
    await asyncio.gather(*futures)


async def count_messages(bootstrap: str, topics: list[str], target: int,
                         on_progress: Callable[[int], None] | None = None, deadline_s: float = 1800) -> int:
    """Read ``topics`` from the start until ``target`` messages were seen (or the deadline); how many."""
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, fetch_max_bytes=16 * 1024 * 1024)
    await consumer.start()
    seen = 0
    try:
        end = time.monotonic() + deadline_s
        while seen < target and time.monotonic() < end:
            for records in (await consumer.getmany(timeout_ms=500, max_records=20000)).values():
                seen += len(records)
            if on_progress:
                on_progress(seen)
    finally:
        await consumer.stop()
    return seen
