"""participants.contacts through the running service: the latest record per participant wins, in any order."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import asyncpg

from tests.integration.notifications.core_world import CORE_ENV, contact, send
from tests.integration.notifications.test_triggers_flow import metric
from tests.waiting import eventually_async

CODE = "0123456789"


async def stored(conn) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT phone, email, language, channels, quiet_from, quiet_until, occurred_at "
                               "FROM notifications.contacts WHERE participant_code = $1", CODE)


async def test_an_older_contact_record_arriving_later_does_not_overwrite_the_newer_one(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    newer_at = datetime(2025, 8, 1, 10, 0, tzinfo=timezone.utc)
    try:
        await send(isolated, "participants.contacts", CODE,
                   contact(CODE, newer_at, phone="+84922222222", language="en", channels=["sms"],
                           sms_quiet_hours={"start": "21:30", "end": "06:45"}))
        await eventually_async(lambda: stored(conn), 30, what="the contact stored")
        # The registry re-sent an older record (a replay of the compacted topic from before the change).
        await send(isolated, "participants.contacts", CODE,
                   contact(CODE, newer_at - timedelta(days=3), phone="+84911111111", email="old@example.vn"))
        await isolated.wait_until_idle("notifications")
        row = await stored(conn)
    finally:
        await conn.close()
    assert (row["phone"], row["email"], row["language"], row["channels"]) == ("+84922222222", None, "en", ["sms"])
    assert (row["quiet_from"], row["quiet_until"], row["occurred_at"]) == (time(21, 30), time(6, 45), newer_at)
    assert metric(service, "notifications_contacts_total", outcome="stored") == 1.0
    assert metric(service, "notifications_contacts_total", outcome="stale") == 1.0


async def test_the_newest_of_several_contact_records_wins_whatever_order_they_arrive_in(isolated):
    at = datetime(2025, 8, 1, 10, 0, tzinfo=timezone.utc)
    # Published before the service starts (so most likely one batch), the newest in the middle.
    await send(isolated, "participants.contacts", CODE,
               contact(CODE, at, phone="+84911111111"),
               contact(CODE, at + timedelta(minutes=2), phone="+84933333333", email="new@example.vn"),
               contact(CODE, at + timedelta(minutes=1), phone="+84922222222"))
    isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await isolated.wait_until_idle("notifications")
        row = await stored(conn)
    finally:
        await conn.close()
    assert (row["phone"], row["email"], row["quiet_from"]) == ("+84933333333", "new@example.vn", None)
