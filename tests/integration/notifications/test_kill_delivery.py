"""kill -9 between the send and its record (the failpoint ``notifications.after_send`` exits the process at
once, like a killed pod): after a restart the gateway got each SMS and push once per idempotency key (the
resend was answered from its record), and the e-mail, which SMTP cannot deduplicate, is `uncertain`."""
from __future__ import annotations

import pytest

from ansinh.runtime.failpoints import EXIT_CODE
from tests.integration.notifications.delivery_world import (
    Row, admin, delivery_env, insert, metric, rows_by_id, servers, until_states)
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration


async def test_a_crash_between_send_and_record_sends_nothing_twice_where_the_channel_allows(isolated):
    async with servers() as (sink, gateway):
        env = delivery_env(sink, gateway)
        crashing = isolated.start_service("notifications", **env, ANSINH_FAILPOINTS="notifications.after_send")
        conn = await admin(isolated)
        try:
            # Each channel's loop claims at once; the e-mail is accepted after 0.5 s and its loop crashes the
            # process then, while the gateway is still answering SMS and push (1.5 s): they reach it, their
            # answers never reach the dispatcher. All three were sent, none recorded.
            sink.mail_delay_s, gateway.delay_s = 0.5, 1.5
            email, sms, push = await insert(conn, Row("email", "hoa@example.test"), Row("sms", "+84901234567"),
                                            Row("push", "device-token-7"))
            await eventually_async(lambda: crashing.proc.poll(), 30, until=lambda code: code is not None,
                                   what="the service dies at the failpoint")
            assert crashing.proc.returncode == EXIT_CODE
            left = await rows_by_id(conn, [email, sms, push])
            assert {i: (r["state"], r["attempts"]) for i, r in left.items()} == \
                {email: ("sending", 1), sms: ("sending", 1), push: ("sending", 1)}  # sent, never recorded
            await eventually_async(lambda: len(gateway.delivered()), 10, until=lambda n: n == 2,
                                   what="the gateway took the SMS and the push")
            assert len(sink.to("hoa@example.test")) == 1
            sink.mail_delay_s, gateway.delay_s = 0.0, 0.0

            restarted = isolated.start_service("notifications", **env)
            rows = await until_states(conn, [email, sms, push], {email: "uncertain", sms: "sent", push: "sent"})
            assert rows[email]["last_error"] == "interrupted"
            for path in ("/sms", "/push"):
                [delivered] = gateway.delivered(path)
                again = gateway.for_key(delivered.key)
                assert [r.duplicate for r in again] == [False, True], again  # resent, deduplicated by the key
            assert len(sink.to("hoa@example.test")) == 1  # not sent again by itself: an operator decides
            assert metric(restarted, "notifications_recovered_total", channel="email", state="uncertain") == 1
            assert metric(restarted, "notifications_recovered_total", channel="sms", state="pending") == 1

            status, _ = restarted.request("POST", "/notifications/replay", {"ids": [email], "reason": "customer "
                                                                             "says nothing arrived"})
            assert status == 200
            await until_states(conn, [email], "sent")
            assert len(sink.to("hoa@example.test")) == 2
        finally:
            await conn.close()


async def test_a_clean_stop_records_the_sends_in_flight_so_nothing_is_left_uncertain(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            sink.mail_delay_s, gateway.delay_s = 1.0, 1.5
            ids = await insert(conn, Row("email", "khanh@example.test"), Row("sms", "+84901234567"))
            await until_states(conn, ids, "sending")
            service.stop()  # SIGTERM while both are in flight
            assert service.proc.returncode == 0, service.log_tail()
            rows = await rows_by_id(conn, ids)
            assert [rows[i]["state"] for i in ids] == ["sent", "sent"]
            assert len(sink.to("khanh@example.test")) == 1 and len(gateway.delivered()) == 1
        finally:
            await conn.close()
