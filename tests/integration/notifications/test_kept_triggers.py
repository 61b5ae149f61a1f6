"""An event for a participant whose contact has not arrived yet is kept (for ANSINH_KEEP_TRIGGERS_S, 7 days by
default) and told once the contact arrives, once; past that time it is forgotten."""
from __future__ import annotations

import asyncpg

from tests.integration.notifications.core_world import CORE_ENV, contact, envelope, rows, send
from tests.integration.notifications.test_triggers_flow import metric, payment_sent
from tests.waiting import eventually_async

CODE = "0123456789"  # payment_sent()'s beneficiary


async def kept(conn) -> int:
    return await conn.fetchval("SELECT count(*) FROM notifications.kept_triggers WHERE participant_code = $1", CODE)


async def test_an_event_before_the_contact_is_told_once_the_contact_arrives(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "payments.events", CODE, envelope(payment_sent("P-1")))
        await isolated.wait_until_idle("notifications")
        before = await rows(conn, CODE), await kept(conn)
        await send(isolated, "participants.contacts", CODE, contact(CODE, phone="+84901234567", email="an@example.vn"))
        told = await eventually_async(lambda: rows(conn, CODE), 30, until=lambda r: len(r) == 2,
                                      what="the kept payment told on e-mail and SMS")
        # A later contact change does not tell it again (the kept trigger is gone; the unique key would hold).
        await send(isolated, "participants.contacts", CODE, contact(CODE, phone="+84909999999"))
        await isolated.wait_until_idle("notifications")
        after = await rows(conn, CODE), await kept(conn)
    finally:
        await conn.close()
    assert before == ([], 1)
    assert sorted((r["channel"], r["type"], r["recipient"], r["state"]) for r in told) == [
        ("email", "payment_sent", "an@example.vn", "pending"), ("sms", "payment_sent", "+84901234567", "pending")]
    assert (len(after[0]), after[1]) == (2, 0)
    assert metric(service, "notifications_kept_triggers_total", outcome="kept") == 1.0
    assert metric(service, "notifications_kept_triggers_total", outcome="told") == 1.0


async def test_an_event_kept_longer_than_the_setting_is_not_told(isolated):
    service = isolated.start_service("notifications", **CORE_ENV, ANSINH_KEEP_TRIGGERS_S="1")
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "payments.events", CODE, envelope(payment_sent("P-1")))
        await eventually_async(lambda: kept(conn), 30, what="the payment kept")
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.kept_triggers"), 30,
                               until=lambda n: n == 0, what="the kept payment forgotten after 1 s")
        await send(isolated, "participants.contacts", CODE, contact(CODE, phone="+84901234567"))
        await isolated.wait_until_idle("notifications")
        told = await rows(conn, CODE)
    finally:
        await conn.close()
    assert told == []
    assert metric(service, "notifications_kept_triggers_total", outcome="expired") == 1.0
