"""A tombstone on participants.contacts (the registry deleting a participant's personal data) erases the stored
contact and cancels what was not sent yet; a tombstone anywhere else is still dead-lettered."""
from __future__ import annotations

from uuid import NAMESPACE_URL, uuid5

import asyncpg

from tests.integration.notifications.core_world import CORE_ENV, contact, envelope, rows, send
from tests.integration.notifications.test_contacts import rewind
from tests.integration.notifications.test_triggers_flow import metric, payment_sent
from tests.kafka_helpers import header, publish, read_topic
from tests.waiting import eventually_async

CODE = "0123456789"  # payment_sent()'s beneficiary


async def contact_row(conn) -> asyncpg.Record | None:
    return await conn.fetchrow("""SELECT phone, email, app_token, language, channels, quiet_from, quiet_until,
                                         erased_at, source_partition, source_offset
                                  FROM notifications.contacts WHERE participant_code = $1""", CODE)


async def erase(isolated) -> None:
    await publish(isolated.bootstrap, isolated.topic("participants.contacts"), [(CODE.encode(), None)])


def assert_erased(row) -> None:
    assert row is not None and row["erased_at"] is not None, row
    assert (row["phone"], row["email"], row["app_token"], row["language"], row["quiet_from"],
            row["quiet_until"], row["channels"]) == (None, None, None, None, None, None, [])


async def test_a_tombstone_erases_the_contact_and_cancels_the_notifications_not_sent(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "participants.contacts", CODE,
                   contact(CODE, phone="+84901234567", email="an@example.vn", app_token="fcm:abc",
                           sms_quiet_hours={"start": "21:30", "end": "06:45"}))
        await eventually_async(lambda: contact_row(conn), 30, what="the contact stored")
        await send(isolated, "payments.events", CODE, envelope(payment_sent("P-1")))
        await eventually_async(lambda: rows(conn, CODE), 30, until=lambda r: len(r) == 3,
                               what="three pending notifications (e-mail, SMS, push)")
        await erase(isolated)
        await eventually_async(lambda: contact_row(conn), 30, until=lambda r: r["erased_at"] is not None,
                               what="the contact erased")
        erased = await contact_row(conn)
        cancelled = await conn.fetch("""SELECT state, last_error, recipient FROM notifications.notifications
                                        WHERE participant_code = $1""", CODE)
        # After the erasure, a payment reaches nobody (no address is left to send to).
        await send(isolated, "payments.events", CODE, envelope(payment_sent("P-2")))
        await isolated.wait_until_idle("notifications")
        after = await rows(conn, CODE)
        tombstone_id = uuid5(NAMESPACE_URL, f"kafka:{isolated.topic('participants.contacts')}:"
                                            f"{erased['source_partition']}:{erased['source_offset']}")
        claimed = await conn.fetchval("""SELECT count(*) FROM notifications.inbox
                                         WHERE consumer = 'participants.contacts' AND event_id = $1""", tombstone_id)
    finally:
        await conn.close()
    assert_erased(erased)
    assert [tuple(r) for r in cancelled] == [("cancelled", "contact_erased", "")] * 3
    assert len(after) == 3  # nothing new for P-2
    assert claimed == 1  # the tombstone's inbox id: its coordinates, as docs/notifications.md says
    assert metric(service, "notifications_contacts_total", outcome="erased") == 1.0
    assert metric(service, "notifications_cancelled_total", reason="contact_erased") == 3.0
    assert metric(service, "notifications_participants_without_contact_total", type="payment_sent") == 1.0
    assert metric(service, "ansinh_dlq_messages_total", topic="participants.contacts") == 0.0


async def test_an_older_contact_redelivered_after_the_erasure_does_not_bring_the_data_back(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "participants.contacts", CODE, contact(CODE, phone="+84901234567"))
        await erase(isolated)
        await eventually_async(lambda: contact_row(conn), 30, until=lambda r: r and r["erased_at"] is not None,
                               what="the contact erased")
        service.stop()
        await conn.execute("DELETE FROM notifications.inbox WHERE consumer = 'participants.contacts'")
        await rewind(isolated, service.group, "participants.contacts")
        isolated.start_service("notifications", **CORE_ENV)
        await isolated.wait_until_idle("notifications")
        row = await contact_row(conn)
        # A new record from the registry (later on the topic) is stored again.
        await send(isolated, "participants.contacts", CODE, contact(CODE, email="new@example.vn"))
        await eventually_async(lambda: contact_row(conn), 30, until=lambda r: r["erased_at"] is None,
                               what="the new contact stored")
        again = await contact_row(conn)
    finally:
        await conn.close()
    assert_erased(row)
    assert (again["email"], again["phone"]) == ("new@example.vn", None)


async def test_a_tombstone_on_another_topic_is_still_dead_lettered(isolated):
    isolated.start_service("notifications", **CORE_ENV)
    await publish(isolated.bootstrap, isolated.topic("payments.events"), [(CODE.encode(), None)])
    [dead] = await read_topic(isolated.bootstrap, isolated.topic("payments.events") + ".dlq", expect=1)
    assert "tombstone" in header(dead, "dlq.reason")
    assert (dead.key, dead.value) == (CODE.encode(), None)


async def test_a_tombstone_whose_key_is_not_a_participant_code_is_dead_lettered_without_its_key(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    key = "an nguyen 0912345678".encode()
    await publish(isolated.bootstrap, isolated.topic("participants.contacts"), [(key, None)])
    [dead] = await read_topic(isolated.bootstrap, isolated.topic("participants.contacts") + ".dlq", expect=1)
    reason = header(dead, "dlq.reason")
    assert "not a 10-digit participant code" in reason and "0912345678" not in reason, reason
    assert (dead.key, dead.value, header(dead, "dlq.stage")) == (key, None, "check")
    await send(isolated, "participants.contacts", CODE, contact(CODE, phone="+84901234567"))
    await isolated.wait_until_idle("notifications")
    assert metric(service, "notifications_contacts_total", outcome="stored") == 1.0  # the consumer went on
