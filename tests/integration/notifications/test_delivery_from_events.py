"""From real events on Kafka to the SMTP server and the gateway: a participant's contact, then a payment sent
(published twice, as a redelivery would): one e-mail and one SMS arrive, rendered in Vietnamese, once."""
from __future__ import annotations

import pytest

from schemas import payments
from tests.integration.notifications.core_world import contact, envelope, send
from tests.integration.notifications.delivery_world import admin, delivery_env, metric, servers, until_states
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration
CODE = "0123456789"


async def test_a_payment_sent_twice_on_kafka_reaches_the_participant_once_per_channel(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            await send(isolated, "participants.contacts", CODE,
                       contact(CODE, phone="+84912345678", email="cuong.le@example.test", channels=["sms", "email"]))
            await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                                   what="the contact stored")
            event = envelope(payments.PaymentSent(payment_id="P-1", beneficiary_code=CODE, award_id="AW-1",
                                                  period="2025-07", amount=5_500_000, channel="bank",
                                                  bank_bin="970436", attempt=1))
            await send(isolated, "payments.events", CODE, event, event)
            ids = await eventually_async(
                lambda: conn.fetch("SELECT id FROM notifications.notifications ORDER BY id"), 30,
                until=lambda found: len(found) == 2, what="one row per channel")
            await until_states(conn, [r["id"] for r in ids], "sent")
            await send(isolated, "payments.events", CODE, event)  # once more, later (a replay of the topic)
            await isolated.wait_until_idle("notifications")
            [mail] = sink.to("cuong.le@example.test")
            [text] = gateway.delivered("/sms")
            assert "5.500.000 ₫" in mail.body and "5.500.000" in text.body["text"]
            assert mail.message["Subject"] and mail.message.get_content_charset() == "utf-8"
            assert len(gateway.requests) == 1 and len(sink.received) == 1
            assert await conn.fetchval("SELECT count(*) FROM notifications.notifications") == 2
            assert metric(service, "notifications_sent_total", channel="email", type="payment_sent") == 1
        finally:
            await conn.close()
