"""Inbox, DLQ and the consume loop, through a running service process and the real broker and database."""
from __future__ import annotations

import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from ansinh.runtime.consumer import BatchConsumer
from ansinh.runtime.database import create_pool, prepare_schema
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import DeadLetters, RawMessage
from ansinh.runtime.errors import PermanentError
from ansinh.runtime.outbox import new_producer
from schemas.benefits import ContactDetailsChanged
from schemas.envelope import encode, new_envelope
from tests.kafka_helpers import header, publish, read_topic
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration


def contact(code: str = "0123456789", **overrides) -> dict:
    return new_envelope(ContactDetailsChanged(participant_code=code, phone="+84912345678", **overrides),
                        "participant-registry")


async def wait_for(fetch, expected, timeout: float = 20.0):
    """Until ``fetch()`` returns ``expected``; fails saying what it returned last."""
    return await eventually_async(fetch, timeout, until=lambda value: value == expected, what=f"{expected!r}")


def sample(metrics: bytes, name: str, **labels: str) -> float | None:
    """The value of one sample of a Prometheus text exposition (None when absent): HELP lines do not count."""
    for family in text_string_to_metric_families(metrics.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return None


async def test_a_redelivered_event_changes_nothing_the_second_time(isolated):
    service = isolated.start_service("notifications")
    envelope = encode(contact())
    topic = isolated.topic("participants.contacts")
    await publish(isolated.bootstrap, topic, [(b"0123456789", envelope), (b"0123456789", envelope)])
    settings = isolated.service("notifications")
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        async def stored():
            return await conn.fetchval("SELECT count(*) FROM notifications.contacts")
        assert await wait_for(stored, 1) == 1
        await publish(isolated.bootstrap, topic, [(b"0123456789", envelope)])  # a third delivery, later
        await isolated.wait_until_idle("notifications")  # the third delivery is consumed and committed
        assert await stored() == 1
        assert await conn.fetchval("SELECT count(*) FROM notifications.inbox") == 1
    finally:
        await conn.close()
    status, body = service.get("/metrics")
    assert status == 200
    assert sample(body, "ansinh_consumed_messages_total", service="notifications",
                  topic="participants.contacts", outcome="processed") == 3.0


async def test_malformed_json_and_schema_invalid_payloads_go_to_the_dlq_with_their_reason(isolated):
    isolated.start_service("notifications")
    good = encode(contact("1111111111"))
    invalid = contact("2222222222")
    invalid["payload"]["phone"] = "0912345678"  # not E.164
    invalid["payload"]["language"] = "fr"
    topic = isolated.topic("participants.contacts")
    await publish(isolated.bootstrap, topic, [(b"k1", b'{"event_id": "oops",'), (b"k2", encode(invalid)),
                                              (b"k3", good)])
    await read_topic(isolated.bootstrap, topic + ".dlq", expect=2)
    await isolated.wait_until_idle("notifications")  # everything consumed: no more dead letters are coming
    dead = await read_topic(isolated.bootstrap, topic + ".dlq", expect=2)
    assert len(dead) == 2
    by_key = {r.key: r for r in dead}
    assert by_key[b"k1"].value == b'{"event_id": "oops",'
    assert header(by_key[b"k1"], "dlq.error_class") == "DecodeError"
    assert header(by_key[b"k1"], "dlq.stage") == "decode"
    assert header(by_key[b"k1"], "dlq.reason").startswith("malformed JSON")
    assert header(by_key[b"k1"], "dlq.source_topic") == topic
    assert header(by_key[b"k1"], "dlq.source_offset") is not None
    assert header(by_key[b"k1"], "dlq.source_partition") is not None
    reason = header(by_key[b"k2"], "dlq.reason")
    assert "payload.phone" in reason and "payload.language" in reason
    assert "0912345678" not in reason and "'fr'" not in reason  # which field and why, never the value
    assert by_key[b"k2"].value == encode(invalid)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        codes = await wait_for(lambda: conn.fetchval(
            "SELECT array_agg(participant_code) FROM notifications.contacts"),
            ["1111111111"])
        assert codes == ["1111111111"]
    finally:
        await conn.close()


class ProbeFailure(PermanentError):
    pass


async def test_a_handler_failure_dead_letters_only_that_message_and_rolls_back_its_changes(isolated):
    settings = isolated.service("notifications")
    await prepare_schema(settings)
    pool = await create_pool(settings)
    producer = new_producer(isolated.bootstrap)
    await producer.start()
    await pool.execute("CREATE TABLE notifications.probe (code text PRIMARY KEY)")
    poison = "9999999999"

    async def handler(batch):
        async with pool.acquire() as conn, conn.transaction():
            for item in batch:
                await conn.execute("INSERT INTO notifications.probe VALUES ($1)", item.message.participant_code)
                if item.message.participant_code == poison:
                    raise ProbeFailure(f"participant {poison} is on the probe's refusal list")

    topic = isolated.topic("participants.contacts")
    consumer = BatchConsumer("notifications", "participants.contacts", Decoder((ContactDetailsChanged,)), handler,
                             DeadLetters(producer, "notifications", "participants.contacts"))
    raws = [RawMessage(topic, 0, offset, code.encode(), encode(contact(code)))
            for offset, code in enumerate(["1000000001", poison, "1000000003"])]
    try:
        await consumer.process(raws)
        rows = await pool.fetch("SELECT code FROM notifications.probe ORDER BY code")
        assert [r["code"] for r in rows] == ["1000000001", "1000000003"]
        [dead] = await read_topic(isolated.bootstrap, topic + ".dlq", expect=1)  # process() awaited the DLQ
        assert dead.value == raws[1].value
        assert header(dead, "dlq.error_class") == "ProbeFailure"
        assert header(dead, "dlq.stage") == "transaction"
        assert "refusal list" in header(dead, "dlq.reason")
        assert header(dead, "dlq.source_offset") == "1"
    finally:
        await producer.stop()
        await pool.close()
