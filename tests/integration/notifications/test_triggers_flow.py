"""From real events on Kafka to pending notification rows in PostgreSQL, through the running service."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from schemas import arrears, benefits, collection, payments
from tests.integration.notifications.core_world import BANK, CORE_ENV, contact, envelope, rows, send
from tests.kafka_helpers import header, publish, read_topic
from tests.waiting import eventually_async

BENEFICIARY, WORKER = "0123456789", "0987654321"


def metric(running, name: str, **labels: str) -> float:
    status, body = running.get("/metrics")
    assert status == 200
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def payment_sent(payment_id: str = "P-1", beneficiary: str = BENEFICIARY) -> payments.PaymentSent:
    return payments.PaymentSent(payment_id=payment_id, beneficiary_code=beneficiary, award_id="AW-1",
                                period="2025-07", amount=5_500_000, channel="bank", bank_bin="970436", attempt=1)


def awarded() -> benefits.BenefitAwarded:
    return benefits.BenefitAwarded(award_id="AW-1", beneficiary_code=BENEFICIARY, beneficiary_name="Lê Văn Cường",
                                   citizen_id="001203008901", benefit_type="old_age_pension", amount=5_500_000,
                                   recurrence="monthly", first_period="2025-07", channel=BANK)


async def until_rows(conn, count: int, participant: str | None = None):
    return await eventually_async(lambda: rows(conn, participant), 30, until=lambda r: len(r) >= count,
                                  what=f"{count} notification rows")


async def test_contacts_then_events_make_pending_notifications_rendered_in_the_participants_language(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "participants.contacts", BENEFICIARY,
                   contact(BENEFICIARY, phone="+84912345678", email="cuong@example.vn", channels=["email", "sms"]))
        await send(isolated, "participants.contacts", WORKER,
                   contact(WORKER, language="en", app_token="fcm:worker-1", channels=["push"]))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               until=lambda n: n == 2, what="both contacts stored")
        award_at = datetime(2025, 6, 20, 3, 0, tzinfo=timezone.utc)
        await send(isolated, "benefits.awards", BENEFICIARY, envelope(awarded(), award_at))
        await until_rows(conn, 2)  # topics are consumed independently: the award is known before its payment
        await send(isolated, "payments.events", BENEFICIARY, envelope(payment_sent()))
        unpaid = arrears.WorkerContributionsUnpaid(worker_code=WORKER, employer_code="DN0001",
                                                   periods=["2025-06", "2025-07"], as_of="2025-09-01")
        await send(isolated, "arrears.events", "DN0001", envelope(unpaid))
        found = await until_rows(conn, 5)
        await isolated.wait_until_idle("notifications")
        found = await rows(conn)
    finally:
        await conn.close()
    by = {(r["participant_code"], r["type"], r["channel"]): r for r in found}
    assert sorted(by) == [(BENEFICIARY, "benefit_awarded", "email"), (BENEFICIARY, "benefit_awarded", "sms"),
                          (BENEFICIARY, "payment_sent", "email"), (BENEFICIARY, "payment_sent", "sms"),
                          (WORKER, "contributions_unpaid", "push")]
    assert all(r["state"] == "pending" and r["attempts"] == 0 for r in found)
    sms = by[(BENEFICIARY, "payment_sent", "sms")]
    assert (sms["recipient"], sms["language"], sms["subject"]) == ("+84912345678", "vi", None)
    # The award told us the benefit type and the account's last digits; the payment event names neither.
    assert sms["body"] == "BHXH: Đã chuyển 5.500.000 ₫ lương hưu tháng 07/2025 vào TK ****4567."
    award_mail = by[(BENEFICIARY, "benefit_awarded", "email")]
    assert award_mail["recipient"] == "cuong@example.vn" and award_mail["subject"] == "Quyết định hưởng lương hưu"
    assert "căn cước ****8901" in award_mail["body"] and "001203008901" not in award_mail["body"]
    assert award_mail["triggered_at"] == award_at
    push = by[(WORKER, "contributions_unpaid", "push")]
    assert (push["recipient"], push["language"]) == ("fcm:worker-1", "en")
    assert push["body"] == "Employer DN0001 has not paid for 06/2025, 07/2025 (as of 01/09/2025)."
    assert metric(service, "notifications_created_total", channel="sms", type="payment_sent") == 1.0


async def test_a_redelivered_event_creates_no_second_notification(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "participants.contacts", BENEFICIARY, contact(BENEFICIARY, phone="+84912345678"))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               what="the contact stored")
        event = envelope(payment_sent())
        await send(isolated, "payments.events", BENEFICIARY, event, event)
        await until_rows(conn, 1)
        await send(isolated, "payments.events", BENEFICIARY, event)  # once more, later (a replay)
        await isolated.wait_until_idle("notifications")
        found = await rows(conn)
        claimed = await conn.fetchval("SELECT count(*) FROM notifications.inbox WHERE consumer = 'payments.events'")
    finally:
        await conn.close()
    assert [(r["type"], r["channel"]) for r in found] == [("payment_sent", "sms")]
    assert claimed == 1
    assert metric(service, "ansinh_consumed_messages_total", service="notifications", topic="payments.events",
                  outcome="processed") == 3.0
    assert metric(service, "notifications_created_total", channel="sms", type="payment_sent") == 1.0


async def test_an_event_for_a_participant_without_a_usable_contact_is_counted_and_creates_nothing(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        # One participant never registered; another registered channels but no address for them.
        await send(isolated, "participants.contacts", "1111111111", contact("1111111111", channels=["sms"]))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               what="the contact stored")
        await send(isolated, "payments.events", "2222222222", envelope(payment_sent("P-2", "2222222222")))
        await send(isolated, "payments.events", "1111111111", envelope(payment_sent("P-3", "1111111111")))
        await isolated.wait_until_idle("notifications")
        found = await rows(conn)
    finally:
        await conn.close()
    assert found == []
    assert metric(service, "notifications_participants_without_contact_total", type="payment_sent") == 2.0
    assert metric(service, "ansinh_dlq_messages_total", topic="payments.events") == 0.0


async def test_a_contact_change_between_two_events_reaches_the_participant_at_the_new_address(isolated):
    isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    first_at = datetime.now(timezone.utc)
    try:
        await send(isolated, "participants.contacts", BENEFICIARY,
                   contact(BENEFICIARY, first_at, phone="+84911111111", channels=["sms"]))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               what="the first contact stored")
        await send(isolated, "payments.events", BENEFICIARY, envelope(payment_sent("P-1")))
        await until_rows(conn, 1)
        await send(isolated, "participants.contacts", BENEFICIARY,
                   contact(BENEFICIARY, first_at + timedelta(minutes=5), phone="+84922222222", language="en",
                           channels=["sms"]))
        await eventually_async(lambda: conn.fetchval("SELECT phone FROM notifications.contacts"), 30,
                               until=lambda phone: phone == "+84922222222", what="the new phone stored")
        await send(isolated, "payments.events", BENEFICIARY, envelope(payment_sent("P-2")))
        found = await until_rows(conn, 2)
    finally:
        await conn.close()
    assert [(r["recipient"], r["language"]) for r in found] == [("+84911111111", "vi"), ("+84922222222", "en")]
    assert found[1]["body"].startswith("VSS: VND 5,500,000")


async def test_assessments_from_two_employers_make_one_monthly_digest_per_channel(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)

    def assessed(employer: str, employee: int, employer_part: int, revision: int = 0):
        return collection.ContributionAssessed(
            employer_code=employer, worker_code=WORKER, worker_name="Trần Thị Bình", period="2025-07",
            revision=revision, due_date="2025-08-31", declared_salary=10_000_000, social_salary_base=10_000_000,
            unemployment_salary_base=10_000_000, floor_applied=False, cap_applied=False,
            lines=[{"fund": "retirement", "party": "employee", "amount": employee},
                   {"fund": "retirement", "party": "employer", "amount": employer_part}],
            total=employee + employer_part)
    try:
        await send(isolated, "participants.contacts", WORKER,
                   contact(WORKER, phone="+84912345678", email="binh@example.vn"))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               what="the contact stored")
        # Both employers' assessments in one batch (the digest sums every employer of the month).
        await publish(isolated.bootstrap, isolated.topic("collection.assessments"),
                      [(b"DN0001", envelope(assessed("DN0001", 800_000, 1_400_000))),
                       (b"DN0002", envelope(assessed("DN0002", 400_000, 700_000)))])
        found = await until_rows(conn, 2)
        await isolated.wait_until_idle("notifications")
        # A later revision after the digest went out changes the parts but tells nobody again.
        await send(isolated, "collection.assessments", "DN0001", envelope(assessed("DN0001", 900_000, 1_500_000, 1)))
        await isolated.wait_until_idle("notifications")
        found = await rows(conn)
        digests = await conn.fetchval("SELECT count(*) FROM notifications.digests WHERE emitted_at IS NOT NULL")
    finally:
        await conn.close()
    assert sorted((r["type"], r["channel"]) for r in found) == [("contributions_recorded", "email"),
                                                                ("contributions_recorded", "sms")]
    sms = next(r for r in found if r["channel"] == "sms")
    assert sms["body"] == ("BHXH: Đã ghi nhận đóng BHXH tháng 07/2025: 3.300.000 ₫ (bạn đóng 1.200.000 ₫, "
                           "đơn vị đóng 2.100.000 ₫).")
    mail = next(r for r in found if r["channel"] == "email")
    assert "(tổng của 2 đơn vị)" in mail["body"]
    assert digests == 1
    assert metric(service, "notifications_digests_emitted_total") == 1.0


async def test_malformed_messages_on_every_input_topic_go_to_their_dlq_with_a_reason(isolated):
    isolated.start_service("notifications", **CORE_ENV)
    topics = ["participants.contacts", "collection.assessments", "arrears.events", "payments.events",
              "benefits.awards"]
    bad_payment = envelope(payment_sent()).replace(b'"amount":5500000', b'"amount":"5500000"')
    for topic in topics:
        await publish(isolated.bootstrap, isolated.topic(topic), [(b"k1", b'{"event_id": "oops",'),
                                                                  (b"k2", bad_payment)])
    await isolated.wait_until_idle("notifications")
    for topic in topics:
        dead = await read_topic(isolated.bootstrap, isolated.topic(topic) + ".dlq", expect=2)
        assert sorted(r.key for r in dead) == [b"k1", b"k2"], topic
        by_key = {r.key: r for r in dead}
        assert by_key[b"k1"].value == b'{"event_id": "oops",'
        assert header(by_key[b"k1"], "dlq.reason").startswith("malformed JSON"), topic
        reason = header(by_key[b"k2"], "dlq.reason")
        # PaymentSent belongs on payments.events only: elsewhere it is an unknown type; there, a bad amount.
        expected = "payload.amount" if topic == "payments.events" else "unknown message type 'PaymentSent'"
        assert expected in reason, (topic, reason)
        assert "5500000" not in reason


async def test_a_suspension_reaches_the_beneficiary_the_award_named_with_its_benefit(isolated):
    isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "participants.contacts", BENEFICIARY, contact(BENEFICIARY, phone="+84912345678"))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               what="the contact stored")
        await send(isolated, "benefits.awards", BENEFICIARY, envelope(awarded()))
        await until_rows(conn, 1)
        suspended = benefits.BenefitSuspended(award_id="AW-1", from_period="2025-09", reason="Chưa cập nhật giấy tờ")
        # Keyed by something else than the beneficiary's code: only the award can say who it concerns.
        await send(isolated, "benefits.awards", "re-keyed", envelope(suspended))
        found = await until_rows(conn, 2)
    finally:
        await conn.close()
    assert [(r["type"], r["participant_code"]) for r in found] == [("benefit_awarded", BENEFICIARY),
                                                                   ("benefit_suspended", BENEFICIARY)]
    assert found[1]["body"].startswith("BHXH: Tạm dừng hưởng lương hưu từ tháng 09/2025.")


async def test_a_digest_is_not_told_before_it_is_due_and_adjustments_add_to_it_meanwhile(isolated):
    isolated.start_service("notifications", **{**CORE_ENV, "ANSINH_DIGEST_DELAY_S": "3600"})
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    first = collection.ContributionAssessed(
        employer_code="DN0001", worker_code=WORKER, worker_name="Trần Thị Bình", period="2025-07", revision=0,
        due_date="2025-08-31", declared_salary=10_000_000, social_salary_base=10_000_000,
        unemployment_salary_base=10_000_000, floor_applied=False, cap_applied=False,
        lines=[{"fund": "retirement", "party": "employee", "amount": 800_000},
               {"fund": "retirement", "party": "employer", "amount": 1_400_000}], total=2_200_000)
    adjusted = collection.ContributionAdjusted(
        employer_code="DN0001", worker_code=WORKER, period="2025-07", revision=1, previous_revision=0,
        due_date="2025-08-31", declared_salary=11_000_000,
        lines=[{"fund": "retirement", "party": "employee", "amount": 80_000},
               {"fund": "retirement", "party": "employer", "amount": 140_000}], total_delta=220_000)
    try:
        await send(isolated, "participants.contacts", WORKER, contact(WORKER, phone="+84912345678"))
        await send(isolated, "collection.assessments", "DN0001", envelope(first), envelope(adjusted),
                   envelope(adjusted))  # the adjustment redelivered: added once
        await isolated.wait_until_idle("notifications")
        part = await conn.fetchrow("SELECT revision, declared_salary, employee_amount, employer_amount "
                                   "FROM notifications.digest_parts")
        digest = await conn.fetchrow("SELECT due_at - triggered_at AS delay, emitted_at FROM notifications.digests")
        found = await rows(conn)
    finally:
        await conn.close()
    assert tuple(part) == (1, 11_000_000, 880_000, 1_540_000)
    assert digest["delay"] == timedelta(hours=1) and digest["emitted_at"] is None
    assert found == []


async def test_after_a_channel_change_payment_messages_name_the_new_accounts_last_digits(isolated):
    isolated.start_service("notifications", **CORE_ENV)
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        await send(isolated, "participants.contacts", BENEFICIARY, contact(BENEFICIARY, phone="+84912345678"))
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM notifications.contacts"), 30,
                               what="the contact stored")
        changed = benefits.PaymentChannelChanged(award_id="AW-1", from_period="2025-08",
                                                 channel={**BANK, "account_number": "99887766554321"})
        await send(isolated, "benefits.awards", BENEFICIARY, envelope(awarded()), envelope(changed))
        await until_rows(conn, 1)
        await isolated.wait_until_idle("notifications")
        stored = await conn.fetchval("SELECT account_last4 FROM notifications.awards WHERE award_id = 'AW-1'")
        await send(isolated, "payments.events", BENEFICIARY, envelope(payment_sent()))
        found = await until_rows(conn, 2)
    finally:
        await conn.close()
    assert stored == "4321"
    assert found[1]["body"] == "BHXH: Đã chuyển 5.500.000 ₫ lương hưu tháng 07/2025 vào TK ****4321."
