"""Consumer lag: for each partition, the end offset minus the group's committed offset."""
from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def lag_of(admin: AIOKafkaAdminClient, probe: AIOKafkaConsumer, group: str, topic: str) -> int:
    """Messages of ``topic`` the consumer group has not committed yet (all of them if it never did)."""
    described = await admin.describe_topics([topic])
    partitions = [p["partition"] for p in described[0]["partitions"]] if described else []
    tps = [TopicPartition(topic, p) for p in partitions]
    if not tps:
        return 0
    ends = await probe.end_offsets(tps)
    committed = await admin.list_consumer_group_offsets(group, partitions=tps)
    lag = 0
    for tp, end in ends.items():
        meta = committed.get(tp)
        position = meta.offset if meta is not None and meta.offset >= 0 else 0
        lag += max(0, end - position)
    return lag
