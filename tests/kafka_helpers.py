"""Test helpers that talk to the real broker: publish bytes, read a topic back, see a group consuming."""
from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from aiokafka.structs import ConsumerRecord, TopicPartition

from schemas.topics import CATALOGUE


async def publish(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_topic(bootstrap: str, topic: str, expect: int, timeout: float = 30.0,
                     settle: float = 0.0) -> list[ConsumerRecord]:
    """Read ``topic`` from the beginning until ``expect`` records arrived, then on to the topic's end
    offsets at that moment, so a record written beyond the expected ones is seen (and an exact-count
    assertion fails) instead of being missed. ``settle`` is accepted for old callers and ignored: to be
    sure nothing more will be written, wait until the writer is idle (``wait_until_consumed``) first."""
    del settle
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None)
    await consumer.start()
    records: list[ConsumerRecord] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(records) < expect:
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(recs)
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while time.monotonic() < deadline and any(await _behind(consumer, ends)):
            for recs in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(recs)
    finally:
        await consumer.stop()
    return records


async def _behind(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[TopicPartition]:
    return [tp for tp, end in ends.items() if await consumer.position(tp) < end]


def consumed_topics(service: str) -> list[str]:
    """The catalogue topics ``service`` consumes."""
    return [spec.name for spec in CATALOGUE if service in spec.consumers]


async def assigned_topics(bootstrap: str, group_prefix: str) -> dict[str, set[str]]:
    """For each consumer group whose id starts with ``group_prefix``: the topics whose partitions its
    members hold right now (empty while it rebalances)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [group for group, _ in await admin.list_consumer_groups() if group.startswith(group_prefix)]
        found: dict[str, set[str]] = {}
        # One group per request: aiokafka 0.14 fails to decode a DescribeGroups answer about several groups.
        responses = [response for group in groups for response in await admin.describe_consumer_groups([group])]
        for response in responses:
            for _error, group, state, _ptype, _protocol, members in response.groups:
                topics = set()
                for member in members if state == "Stable" else ():
                    assignment = ConsumerProtocolMemberAssignment.decode(member[4])
                    topics.update(topic for topic, partitions in assignment.assignment if partitions)
                found[group] = topics
        return found
    finally:
        await admin.close()


async def uncommitted(bootstrap: str, group_prefix: str, topics: list[str]) -> dict[str, int]:
    """Per topic: records not yet committed by the consumer groups whose ids start with ``group_prefix``
    (end offset minus the committed offset of the slowest group reading the topic, summed over partitions).

    A service may read one topic in several groups (arrears: the ledger and the ops side's consumers): the
    topic is done only when every one of them is. The groups reading a topic are those holding its partitions
    now or having committed offsets of it; one that holds it and has committed nothing counts as 0."""
    holding = await assigned_topics(bootstrap, group_prefix)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        groups = [group for group, _ in await admin.list_consumer_groups() if group.startswith(group_prefix)]
        offsets = {group: {tp: meta.offset for tp, meta in (await admin.list_consumer_group_offsets(group)).items()}
                   for group in groups}
        partitions = [TopicPartition(t, p) for t in topics for p in (probe.partitions_for_topic(t) or
                                                                    await _partitions(probe, t))]
        ends = await probe.end_offsets(partitions)
        behind = {t: 0 for t in topics}
        for tp, end in ends.items():
            readers = [g for g in groups
                       if tp.topic in holding.get(g, ()) or any(o.topic == tp.topic for o in offsets[g])]
            committed = min((max(offsets[g].get(tp, 0), 0) for g in readers), default=0)
            behind[tp.topic] += max(0, end - committed)
        return behind
    finally:
        await probe.stop()
        await admin.close()


async def _partitions(probe: AIOKafkaConsumer, topic: str) -> set[int]:
    await probe._client.force_metadata_update()  # noqa: SLF001 - aiokafka has no public "refresh" call
    return probe.partitions_for_topic(topic) or set()


def header(record: ConsumerRecord, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode()
    return None
