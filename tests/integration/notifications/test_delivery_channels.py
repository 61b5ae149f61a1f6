"""The channel adapters against real local servers: an aiosmtpd SMTP server and the HTTP gateway."""
from __future__ import annotations

import pytest

from services.notifications.delivery.channels import Message, idempotency_key
from services.notifications.delivery.email import SmtpChannel
from services.notifications.delivery.gateway import GatewayChannel
from services.notifications.delivery.settings import DeliverySettings
from services.notifications.domain.delivery import Verdict
from ansinh.devplatform.mailbox import Gateway, SmtpSink, free_port

pytestmark = pytest.mark.integration

SUBJECT = "Thông báo: tiền lương hưu tháng 11/2026 đã được chuyển"
BODY = "Kính gửi ông/bà,\nSố tiền 1.234.567 ₫ đã được chuyển vào tài khoản ****6789 ngày 25/11/2026."


def message(channel: str, recipient: str, n: int = 1, subject: str | None = SUBJECT) -> Message:
    key = idempotency_key("3f0c7d6e-4c5b-4a1e-9a7d-0c9e2b1f6a11", f"01234567{n:02d}", channel, 0)
    return Message(n, channel, "payment_sent", recipient, subject, BODY, key)


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def gateway():
    server = Gateway(token="gateway-secret-0123456789").start()
    yield server
    server.stop()


async def open_channel(channel):
    await channel.start()
    return channel


async def test_an_email_arrives_with_utf8_headers_a_message_id_and_the_vietnamese_body(sink):
    smtp = await open_channel(SmtpChannel(DeliverySettings(smtp_host="127.0.0.1", smtp_port=sink.port, mail_from="BHXH <tb@bhxh.test>")))
    try:
        [outcome] = await smtp.send([message("email", "nguyen.van.a@example.test")])
    finally:
        await smtp.close()
    assert outcome.verdict is Verdict.SENT
    [mail] = sink.to("nguyen.van.a@example.test")
    assert mail.mail_from == "tb@bhxh.test"
    assert mail.message["From"] == "BHXH <tb@bhxh.test>"
    assert mail.message["To"] == "nguyen.van.a@example.test"
    assert mail.message["Subject"] == SUBJECT  # decoded from RFC 2047 by the parser
    assert mail.message["Message-ID"] == f"<{message('email', '').idempotency_key}@bhxh.test>"
    assert mail.body.rstrip("\n") == BODY
    assert mail.message.get_content_charset() == "utf-8"


async def test_one_smtp_session_carries_many_messages(sink):
    smtp = await open_channel(SmtpChannel(DeliverySettings(smtp_host="127.0.0.1", smtp_port=sink.port, smtp_connections=2)))
    try:
        outcomes = await smtp.send([message("email", f"p{i}@example.test", i) for i in range(20)])
    finally:
        await smtp.close()
    assert [o.verdict for o in outcomes] == [Verdict.SENT] * 20
    assert sorted(m.rcpt_tos[0] for m in sink.received) == sorted(f"p{i}@example.test" for i in range(20))


async def test_a_refused_mailbox_is_permanent_and_a_busy_server_transient(sink):
    sink.refuse("gone@example.test", 550)
    smtp = await open_channel(SmtpChannel(DeliverySettings(smtp_host="127.0.0.1", smtp_port=sink.port, smtp_connections=1)))
    try:
        [refused] = await smtp.send([message("email", "gone@example.test")])
        sink.answer_busy(1)
        [busy] = await smtp.send([message("email", "ok@example.test")])
        [then] = await smtp.send([message("email", "ok@example.test")])  # the same session goes on
    finally:
        await smtp.close()
    assert (refused.verdict, refused.reason) == (Verdict.PERMANENT, "smtp_550")
    assert (busy.verdict, busy.reason) == (Verdict.TRANSIENT, "smtp_451")
    assert then.verdict is Verdict.SENT and len(sink.to("ok@example.test")) == 1


async def test_an_address_smtp_cannot_carry_is_refused_without_a_session(sink):
    smtp = await open_channel(SmtpChannel(DeliverySettings(smtp_host="127.0.0.1", smtp_port=sink.port)))
    try:
        [outcome] = await smtp.send([message("email", "nguyễn@example.test")])  # would need SMTPUTF8
    finally:
        await smtp.close()
    assert (outcome.verdict, outcome.reason) == (Verdict.PERMANENT, "invalid_address")
    assert sink.received == []


async def test_an_smtp_server_that_is_not_there_is_transient():
    smtp = await open_channel(SmtpChannel(DeliverySettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_timeout_s=2)))
    try:
        [outcome] = await smtp.send([message("email", "a@example.test")])
    finally:
        await smtp.close()
    assert outcome.verdict is Verdict.TRANSIENT


def gateway_settings(gateway: Gateway, **extra) -> DeliverySettings:
    return DeliverySettings(gateway_sms_url=gateway.sms_url, gateway_push_url=gateway.push_url,
                            gateway_token=gateway.token, sms_sender="BHXH", **extra)


async def test_an_sms_reaches_the_gateway_with_its_idempotency_key_and_credentials(gateway):
    sms = await open_channel(GatewayChannel(gateway_settings(gateway), "sms"))
    try:
        [outcome] = await sms.send([message("sms", "+84901234567", subject=None)])
    finally:
        await sms.close()
    assert outcome.verdict is Verdict.SENT
    [request] = gateway.delivered("/sms")
    assert request.body == {"to": "+84901234567", "from": "BHXH", "text": BODY}
    assert request.key == message("sms", "").idempotency_key
    assert request.authorization == f"Bearer {gateway.token}"


async def test_a_push_carries_title_and_body(gateway):
    push = await open_channel(GatewayChannel(gateway_settings(gateway), "push"))
    try:
        [outcome] = await push.send([message("push", "device-token-abc")])
    finally:
        await push.close()
    assert outcome.verdict is Verdict.SENT
    [request] = gateway.delivered("/push")
    assert request.body == {"token": "device-token-abc", "title": SUBJECT, "body": BODY}


async def test_the_same_key_sent_twice_is_delivered_once(gateway):
    sms = await open_channel(GatewayChannel(gateway_settings(gateway), "sms"))
    try:
        first = await sms.send([message("sms", "+84901234567")])
        again = await sms.send([message("sms", "+84901234567")])
    finally:
        await sms.close()
    assert [o.verdict for o in first + again] == [Verdict.SENT, Verdict.SENT]
    assert len(gateway.delivered("/sms")) == 1
    assert [r.duplicate for r in gateway.for_key(message("sms", "").idempotency_key)] == [False, True]


async def test_an_invalid_number_is_permanent_and_a_gateway_error_transient(gateway):
    gateway.refused.add("+840000")
    sms = await open_channel(GatewayChannel(gateway_settings(gateway), "sms"))
    try:
        [invalid] = await sms.send([message("sms", "+840000", 1)])
        gateway.script(503, 429)
        unavailable, limited = await sms.send([message("sms", "+84901", 2), message("sms", "+84902", 3)])
    finally:
        await sms.close()
    assert (invalid.verdict, invalid.reason) == (Verdict.PERMANENT, "http_400")
    assert {unavailable.reason, limited.reason} == {"http_503", "http_429"}
    assert {unavailable.verdict, limited.verdict} == {Verdict.TRANSIENT}


async def test_a_slow_gateway_times_out_as_transient(gateway):
    gateway.delay_s = 2.0
    sms = await open_channel(GatewayChannel(gateway_settings(gateway, gateway_timeout_s=0.3), "sms"))
    try:
        [outcome] = await sms.send([message("sms", "+84901234567")])
    finally:
        await sms.close()
    assert (outcome.verdict, outcome.reason) == (Verdict.TRANSIENT, "timeout")


async def test_a_wrong_gateway_token_is_retried_while_an_operator_fixes_it(gateway):
    sms = await open_channel(GatewayChannel(DeliverySettings(gateway_sms_url=gateway.sms_url,
                                                             gateway_token="wrong-token-000000000"), "sms"))
    try:
        [outcome] = await sms.send([message("sms", "+84901234567")])
    finally:
        await sms.close()
    assert (outcome.verdict, outcome.reason) == (Verdict.TRANSIENT, "http_401")
