"""Topics come from the catalogue only, and envelopes survive a trip through the real broker."""
from __future__ import annotations

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaError

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from ansinh.ops.topics import ensure_topics, planned
from schemas.benefits import ContactDetailsChanged
from schemas.envelope import encode, new_envelope
from schemas.topics import CATALOGUE
from tests.kafka_helpers import publish, read_topic

pytestmark = pytest.mark.integration


async def test_every_catalogue_topic_and_its_dlq_twin_exists_after_creation(isolated):
    admin = AIOKafkaAdminClient(bootstrap_servers=isolated.bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        for spec in CATALOGUE:
            assert isolated.topic(spec.name) in existing
            if spec.direction in ("in", "internal"):
                assert isolated.topic(f"{spec.name}.dlq") in existing
        described = await admin.describe_topics([isolated.topic("collection.declarations")])
        assert len(described[0]["partitions"]) == 12
        configs = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, isolated.topic("participants.contacts"))])
        entries = {c[0]: c[1] for c in configs[0].resources[0][4]}
        assert entries["cleanup.policy"] == "compact"
    finally:
        await admin.close()


async def test_creating_topics_twice_creates_nothing_the_second_time(isolated):
    assert await ensure_topics(isolated.bootstrap, isolated.prefix) == []


async def test_a_topic_missing_from_the_catalogue_is_not_auto_created(isolated):
    producer = AIOKafkaProducer(bootstrap_servers=isolated.bootstrap, request_timeout_ms=3000,
                                metadata_max_age_ms=1000)
    await producer.start()
    try:
        with pytest.raises(KafkaError):
            await producer.send_and_wait(isolated.topic("collection.declaratoins"), b"typo", key=b"k")
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=isolated.bootstrap)
    await admin.start()
    try:
        assert isolated.topic("collection.declaratoins") not in await admin.list_topics()
    finally:
        await admin.close()


async def test_an_envelope_round_trips_through_kafka_unchanged(isolated):
    message = ContactDetailsChanged(participant_code="0123456789", phone="+84912345678",
                                    email="an@example.vn", language="en", channels=["sms", "email"])
    envelope = new_envelope(message, "participant-registry")
    topic = isolated.topic("participants.contacts")
    await publish(isolated.bootstrap, topic, [(b"0123456789", encode(envelope))])
    [record] = await read_topic(isolated.bootstrap, topic, expect=1)
    decoded = Decoder((ContactDetailsChanged,)).decode(
        RawMessage(record.topic, record.partition, record.offset, record.key, record.value))
    assert decoded.message == message
    assert str(decoded.envelope.event_id) == envelope["event_id"]
    assert decoded.envelope.occurred_at.isoformat() == envelope["occurred_at"]
    assert decoded.envelope.producer == "participant-registry"
    assert record.key == b"0123456789"
    assert len(planned(isolated.prefix)) == len(CATALOGUE) + sum(1 for s in CATALOGUE if s.dlq)


async def test_consumer_lag_counts_what_a_group_has_not_committed(isolated):
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from ansinh.runtime.lag import lag_of

    topic = isolated.topic("payments.cash-status")
    await publish(isolated.bootstrap, topic, [(b"office-1", b"m%d" % i) for i in range(7)])
    admin = AIOKafkaAdminClient(bootstrap_servers=isolated.bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=isolated.bootstrap)
    await admin.start()
    await probe.start()
    reader = AIOKafkaConsumer(topic, bootstrap_servers=isolated.bootstrap, group_id="lag-test",
                              auto_offset_reset="earliest", enable_auto_commit=False)
    await reader.start()
    try:
        assert await lag_of(admin, probe, "lag-test", topic) == 7
        records = []
        while len(records) < 3:
            for part in (await reader.getmany(timeout_ms=500, max_records=3 - len(records))).values():
                records += part
        await reader.commit({TopicPartition(topic, r.partition): r.offset + 1 for r in records})
        assert await lag_of(admin, probe, "lag-test", topic) == 4
    finally:
        await reader.stop()
        await probe.stop()
        await admin.close()
