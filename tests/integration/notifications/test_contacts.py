"""participants.contacts through the running service: per participant, the record latest on the topic (highest
(partition, offset)) wins, whatever its event time and whatever order it is read in."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from tests.integration.notifications.core_world import CORE_ENV, contact, send
from tests.integration.notifications.test_triggers_flow import metric
from tests.waiting import eventually_async

CODE = "0123456789"


async def stored(conn) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT phone, email, language, channels, quiet_from, quiet_until, occurred_at "
                               "FROM notifications.contacts WHERE participant_code = $1", CODE)


async def test_an_older_contact_record_arriving_later_does_not_overwrite_the_newer_one(isolated):
    """A redelivery of an older offset (the group rewound, the inbox no longer holding the ids, as after a
    restore) leaves the newer record: the comparison of (partition, offset) holds it, not the inbox."""
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    at = datetime(2025, 8, 1, 10, 0, tzinfo=timezone.utc)
    try:
        await send(isolated, "participants.contacts", CODE, contact(CODE, at, phone="+84911111111",
                                                                    email="old@example.vn"))
        await eventually_async(lambda: stored(conn), 30, what="the first contact stored")
        await send(isolated, "participants.contacts", CODE,
                   contact(CODE, at - timedelta(days=3), phone="+84922222222", language="en", channels=["sms"],
                           sms_quiet_hours={"start": "21:30", "end": "06:45"}))
        await isolated.wait_until_idle("notifications")
        service.stop()
        await conn.execute("DELETE FROM notifications.inbox WHERE consumer = 'participants.contacts'")
        await rewind(isolated, service.group, "participants.contacts")
        service = isolated.start_service("notifications", **CORE_ENV)
        await isolated.wait_until_idle("notifications")
        row = await stored(conn)
    finally:
        await conn.close()
    assert (row["phone"], row["email"], row["language"], row["channels"]) == ("+84922222222", None, "en", ["sms"])
    assert (row["quiet_from"], row["quiet_until"], row["occurred_at"]) == (time(21, 30), time(6, 45),
                                                                          at - timedelta(days=3))
    assert metric(service, "notifications_contacts_total", outcome="stored") == 0.0
    assert metric(service, "notifications_contacts_total", outcome="stale") == 2.0  # both redelivered


async def test_a_contact_dated_far_in_the_future_does_not_lock_the_participants_contact(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    now = datetime(2025, 8, 1, 10, 0, tzinfo=timezone.utc)
    try:
        await send(isolated, "participants.contacts", CODE,
                   contact(CODE, datetime(2099, 1, 1, tzinfo=timezone.utc), phone="+84911111111"))
        await eventually_async(lambda: stored(conn), 30, what="the contact dated 2099 stored")
        await send(isolated, "participants.contacts", CODE, contact(CODE, now, phone="+84922222222"))
        await isolated.wait_until_idle("notifications")
        row = await stored(conn)
    finally:
        await conn.close()
    assert (row["phone"], row["occurred_at"]) == ("+84922222222", now)  # the later offset wins; its time is shown
    assert metric(service, "notifications_contacts_total", outcome="stored") == 2.0


async def test_the_last_of_several_contact_records_on_the_topic_wins_whatever_their_event_times(isolated):
    at = datetime(2025, 8, 1, 10, 0, tzinfo=timezone.utc)
    # Published before the service starts (so most likely one batch), event times out of order.
    await send(isolated, "participants.contacts", CODE,
               contact(CODE, at + timedelta(minutes=1), phone="+84911111111"),
               contact(CODE, at + timedelta(minutes=2), phone="+84933333333", email="new@example.vn"),
               contact(CODE, at, phone="+84922222222"))
    isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await isolated.wait_until_idle("notifications")
        row = await stored(conn)
    finally:
        await conn.close()
    assert (row["phone"], row["email"], row["quiet_from"]) == ("+84922222222", None, None)


async def rewind(isolated, group: str, logical_topic: str) -> None:
    """Commit offset 0 on every partition for the (stopped, so empty) group: the next start reads it all again."""
    topic = isolated.topic(logical_topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=isolated.bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # the topic exists (the service consumed it)
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        assert partitions, f"no partitions known for {topic}"
        consumer.assign(partitions)
        await consumer.commit({tp: 0 for tp in partitions})
    finally:
        await consumer.stop()
