"""The dispatcher in the running service, against a real SMTP server and the local gateway: pending rows
are sent once, failures retried or not, SMS waits out quiet hours, the rate limit holds."""
from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from services.notifications.domain.delivery import BUSINESS_TZ
from tests.waiting import eventually_async
from tests.integration.notifications.delivery_world import (
    Row, admin, delivery_env, insert, metric, rows_by_id, servers, set_contact, until_states)

pytestmark = pytest.mark.integration


async def test_pending_notifications_are_sent_once_on_each_channel(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            email, sms, push = Row("email", "an.nguyen@example.test"), Row("sms", "+84901234567"), \
                Row("push", "device-token-1")
            ids = await insert(conn, email, sms, push)
            rows = await until_states(conn, ids, "sent")
            assert [rows[i]["attempts"] for i in ids] == [1, 1, 1]
            assert all(rows[i]["sent_at"] is not None and rows[i]["last_error"] is None for i in ids)

            [mail] = sink.to("an.nguyen@example.test")
            assert mail.message["Subject"] == email.subject
            assert mail.message["From"] == "BHXH Việt Nam <thongbao@bhxh.test>"
            assert mail.body.strip() == email.body
            [text] = gateway.delivered("/sms")
            assert text.body == {"to": "+84901234567", "from": "BHXH", "text": sms.body}
            [note] = gateway.delivered("/push")
            assert note.body["title"] == push.subject and note.key != text.key

            assert metric(service, "notifications_sent_total", channel="sms", type="payment_sent") == 1
            assert metric(service, "notifications_delivery_latency_seconds_count", channel="email") == 1
            assert metric(service, "notifications_delivery_attempts_total", channel="push", outcome="sent") == 1
        finally:
            await conn.close()


async def test_a_redelivered_event_and_a_restart_send_nothing_twice(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            sms, email = Row("sms", "+84901234567"), Row("email", "binh@example.test")
            ids = await insert(conn, sms, email)
            assert await insert(conn, sms, email) == []  # the same event again: the unique key keeps one row
            await until_states(conn, ids, "sent")
            service.stop()
            service = isolated.start_service("notifications", **delivery_env(sink, gateway))
            later = await insert(conn, Row("sms", "+84907654321"))  # proves the restarted dispatcher works
            await until_states(conn, later, "sent")
            assert len(gateway.delivered("/sms")) == 2 and len(gateway.requests) == 2
            assert len(sink.to("binh@example.test")) == 1
        finally:
            await conn.close()


async def test_transient_failures_are_retried_with_backoff_until_sent(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            gateway.script(503, 429)
            sink.answer_busy(2)
            ids = await insert(conn, Row("sms", "+84901234567"), Row("email", "chi@example.test"))
            rows = await until_states(conn, ids, "sent")
            assert [rows[i]["attempts"] for i in ids] == [3, 3]
            assert [r.status for r in gateway.requests] == [503, 429, 202]
            assert len(gateway.delivered()) == 1 and len(sink.to("chi@example.test")) == 1
            assert metric(service, "notifications_delivery_attempts_total", channel="sms", outcome="transient") == 2
            assert metric(service, "notifications_delivery_attempts_total", channel="email", outcome="transient") == 2
        finally:
            await conn.close()


async def test_a_permanent_refusal_is_failed_at_once_and_not_retried(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            gateway.refused.add("+84000")
            sink.refuse("nobody@example.test", 550)
            ids = await insert(conn, Row("sms", "+84000"), Row("email", "nobody@example.test"))
            rows = await until_states(conn, ids, "failed")
            assert [(rows[i]["attempts"], rows[i]["last_error"]) for i in ids] == [(1, "http_400"), (1, "smtp_550")]
            check = await insert(conn, Row("sms", "+84901234567"))  # later work goes on; the refused is not retried
            await until_states(conn, check, "sent")
            assert [r.body["to"] for r in gateway.requests] == ["+84000", "+84901234567"]
            assert metric(service, "notifications_failed_total", channel="sms", type="payment_sent",
                          reason="permanent") == 1
        finally:
            await conn.close()


def at_local(days: int, hour: int) -> datetime:
    today = datetime.now(BUSINESS_TZ).date()
    return datetime.combine(today + timedelta(days=days), datetime.min.time(), tzinfo=BUSINESS_TZ).replace(hour=hour)


async def test_sms_waits_out_quiet_hours_while_email_goes(isolated):
    clock = at_local(1, 22)  # tomorrow 22:00 in Ho Chi Minh City: every row inserted now is due
    async with servers() as (sink, gateway):
        conn = await admin(isolated)
        try:
            service = isolated.start_service("notifications", **delivery_env(sink, gateway,
                                                                    ANSINH_DELIVERY_CLOCK=clock.isoformat(),
                                                                    ANSINH_SMS_QUIET_HOURS="21:00-07:00"))
            await set_contact(conn, "1000000001", ("21:00", "07:00"))
            await set_contact(conn, "1000000002", ("23:00", "05:00"))
            quiet, own_hours_later, default_quiet, email = await insert(
                conn, Row("sms", "+84901000001", "1000000001"), Row("sms", "+84901000002", "1000000002"),
                Row("sms", "+84901000003", "1000000003"),  # no contact row: the default 21:00-07:00
                Row("email", "dung@example.test", "1000000001"))
            rows = await until_states(conn, [quiet, own_hours_later, default_quiet, email],
                                      {quiet: "pending", own_hours_later: "sent", default_quiet: "pending",
                                       email: "sent"})
            async def deferred():
                rows = await rows_by_id(conn, [quiet, default_quiet])
                assert [rows[i]["next_attempt_at"] for i in (quiet, default_quiet)] == [at_local(2, 7)] * 2, rows
                return rows
            rows = await until_states(conn, [quiet], "pending") and await deferred()
            assert rows[quiet]["attempts"] == 0  # waiting is not an attempt
            assert [r.body["to"] for r in gateway.requests] == ["+84901000002"]
            # Pending but not due: the queue depth shows them, the due queue (what the alert watches) does not.
            await eventually_async(lambda: (metric(service, "notifications_in_state", channel="sms", state="pending"),
                                            metric(service, "notifications_due", channel="sms")),
                                   20, until=lambda seen: seen == (2, 0), what="the gauges count 2 waiting, 0 due")
        finally:
            await conn.close()


async def test_the_rate_limit_spaces_a_channel_out(isolated):
    async with servers() as (sink, gateway):
        conn = await admin(isolated)
        try:
            isolated.start_service("notifications", **delivery_env(sink, gateway, ANSINH_RATE_SMS_PER_S="20"))
            start = time.monotonic()
            ids = await insert(conn, *(Row("sms", f"+849010{i:05d}") for i in range(60)))
            await until_states(conn, ids, "sent")
            elapsed = time.monotonic() - start
            # A full bucket of 20, then 20 a second: the other 40 need at least 2 s.
            assert elapsed >= 1.9, elapsed
            assert len(gateway.delivered("/sms")) == 60
        finally:
            await conn.close()
