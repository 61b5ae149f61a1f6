"""Triggers: which events tell a participant what, with which inputs; composing them with contacts."""
from datetime import datetime, time, timezone

from ansinh.runtime.decoding import Decoder, Incoming, Tombstone
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import DecodeError
from schemas import arrears, benefits, collection, payments
from schemas.envelope import encode, new_envelope
from schemas.topics import spec
from services.notifications.commands import EraseContact, StoreContact, contact_command, newest_per_participant, store_contact
from services.notifications.domain.errors import InvalidTombstoneKey
from services.notifications.domain.contacts import Contact, Version, usable_channels
from services.notifications.domain.digest import DigestPart, due_at, digest_event_id, summed
from services.notifications.render import Renderer
from services.notifications.triggers import AwardFacts, compose, digest_trigger, effects_of

AT = datetime(2025, 8, 1, 9, 30, tzinfo=timezone.utc)
BANK = {"kind": "bank", "bank_bin": "970436", "account_number": "0011001234567", "account_name": "Lê Văn Cường"}


def incoming(topic: str, message, key: bytes = b"0123456789", offset: int = 0, at: datetime = AT) -> Incoming:
    raw = RawMessage(topic, 0, offset, key, encode(new_envelope(message, "test", occurred_at=at)))
    return Decoder(spec(topic).messages).decode(raw)


def awarded(**changes) -> benefits.BenefitAwarded:
    fields = dict(award_id="AW-1", beneficiary_code="0123456789", beneficiary_name="Lê Văn Cường",
                  citizen_id="001203008901", benefit_type="old_age_pension", amount=5_500_000, recurrence="monthly",
                  first_period="2025-07", channel=BANK)
    return benefits.BenefitAwarded(**{**fields, **changes})


def assessed(employer="DN0001", revision=0, employee=(800_000, 100_000), employer_parts=(1_400_000, 300_000)):
    lines = [{"fund": "retirement", "party": "employee", "amount": employee[0]},
             {"fund": "health", "party": "employee", "amount": employee[1]},
             {"fund": "retirement", "party": "employer", "amount": employer_parts[0]},
             {"fund": "health", "party": "employer", "amount": employer_parts[1]}]
    return collection.ContributionAssessed(
        employer_code=employer, worker_code="0123456789", worker_name="Lê Văn Cường", period="2025-07",
        revision=revision, due_date="2025-08-31", declared_salary=10_000_000, social_salary_base=10_000_000,
        unemployment_salary_base=10_000_000, floor_applied=False, cap_applied=False, lines=lines,
        total=sum(employee) + sum(employer_parts))


# ---- which events trigger what --------------------------------------------------------------------------
def test_an_award_tells_the_beneficiary_with_the_citizen_id_and_account_masked():
    item = incoming("benefits.awards", awarded())
    effects = effects_of([item])
    [trigger] = effects.triggers
    assert (trigger.message_type, trigger.participant_code, trigger.event_id) == \
        ("benefit_awarded", "0123456789", item.envelope.event_id)
    assert trigger.inputs["citizen_id"] == "****8901" and trigger.inputs["account"] == "****4567"
    assert trigger.triggered_at == AT
    assert "001203008901" not in repr(trigger) and "0011001234567" not in repr(effects)
    [award] = effects.awards
    assert (award.beneficiary_code, award.benefit_type, award.account_last4) == \
        ("0123456789", "old_age_pension", "4567")


def test_a_suspension_and_an_end_name_the_award_and_fall_back_to_the_record_key_for_the_beneficiary():
    suspended = benefits.BenefitSuspended(award_id="AW-1", from_period="2025-09", reason="Chưa cập nhật giấy tờ")
    ended = benefits.BenefitTerminated(award_id="AW-1", from_period="2025-12", reason="Hết hạn")
    triggers = effects_of([incoming("benefits.awards", suspended, key=b"0123456789"),
                           incoming("benefits.awards", ended, key=b"not-a-code")]).triggers
    assert [(t.message_type, t.award_id, t.participant_code) for t in triggers] == \
        [("benefit_suspended", "AW-1", "0123456789"), ("benefit_ended", "AW-1", None)]


def test_a_payment_sent_tells_its_beneficiary_the_amount_and_month():
    sent = payments.PaymentSent(payment_id="P-1", beneficiary_code="0123456789", award_id="AW-1", period="2025-07",
                                amount=5_500_000, channel="bank", bank_bin="970436", attempt=1)
    [trigger] = effects_of([incoming("payments.events", sent)]).triggers
    assert trigger.message_type == "payment_sent" and trigger.participant_code == "0123456789"
    assert (trigger.inputs["amount"], trigger.inputs["period"], trigger.award_id) == (5_500_000, "2025-07", "AW-1")


def test_unpaid_months_tell_the_worker_which_months_and_which_employer():
    unpaid = arrears.WorkerContributionsUnpaid(worker_code="0123456789", employer_code="DN0001",
                                               periods=["2025-06", "2025-07"], as_of="2025-09-01")
    [trigger] = effects_of([incoming("arrears.events", unpaid, key=b"DN0001")]).triggers
    assert trigger.message_type == "contributions_unpaid" and trigger.participant_code == "0123456789"
    assert trigger.inputs["periods"] == ["2025-06", "2025-07"] and trigger.inputs["employer_code"] == "DN0001"


def test_an_assessment_tells_nobody_yet_but_adds_its_lines_to_the_monthly_digest():
    effects = effects_of([incoming("collection.assessments", assessed(), key=b"DN0001")])
    assert effects.triggers == []
    [entry] = effects.assessed
    assert entry.part == DigestPart("0123456789", "2025-07", "DN0001", 0, 10_000_000, 900_000, 1_700_000)
    assert not entry.delta and entry.occurred_at == AT


def test_an_adjustment_adds_its_differences_to_the_digest():
    adjusted = collection.ContributionAdjusted(
        employer_code="DN0001", worker_code="0123456789", period="2025-07", revision=1, previous_revision=0,
        due_date="2025-08-31", declared_salary=11_000_000,
        lines=[{"fund": "retirement", "party": "employee", "amount": 80_000},
               {"fund": "retirement", "party": "employer", "amount": -10_000}], total_delta=70_000)
    [entry] = effects_of([incoming("collection.assessments", adjusted, key=b"DN0001")]).assessed
    assert entry.delta and (entry.part.employee_amount, entry.part.employer_amount, entry.part.revision) == \
        (80_000, -10_000, 1)


def test_events_that_concern_no_participant_trigger_nothing():
    overdue = arrears.EmployerOverdue(employer_code="DN0001", period="2025-07", due_date="2025-08-31",
                                      first_day_late="2025-09-01", unpaid_principal=1_000_000, as_of="2025-09-01")
    run = payments.PaymentRunPrepared(period="2025-07", payments=10, total_amount=55_000_000, prepared_by="op")
    effects = effects_of([incoming("arrears.events", overdue, key=b"DN0001"),
                          incoming("payments.events", run, key=b"2025-07")])
    assert effects.triggers == [] and effects.awards == [] and effects.assessed == []


def test_only_claimed_events_have_effects():
    first, second = incoming("benefits.awards", awarded()), incoming("benefits.awards", awarded(award_id="AW-2"))
    kept = effects_of([first, second]).only({second.envelope.event_id})
    assert [t.event_id for t in kept.triggers] == [second.envelope.event_id]
    assert [a.award_id for a in kept.awards] == ["AW-2"]


# ---- contacts ------------------------------------------------------------------------------------------
def test_a_participant_is_reached_on_the_channels_chosen_that_have_an_address():
    contact = Contact("0123456789", "vi", phone="+84912345678", email=None, channels=("email", "sms"))
    assert usable_channels(contact) == [("sms", "+84912345678")]


def test_a_participant_who_chose_nothing_is_reached_wherever_they_gave_an_address():
    contact = Contact("0123456789", "en", phone="+84912345678", email="an@example.vn", app_token="fcm:1")
    assert usable_channels(contact) == [("email", "an@example.vn"), ("sms", "+84912345678"), ("push", "fcm:1")]


def test_no_contact_or_no_address_is_no_channel():
    assert usable_channels(None) == []
    assert usable_channels(Contact("0123456789", "vi", channels=("sms",))) == []


def test_of_two_contact_records_the_later_offset_wins_whatever_their_event_times():
    assert Version(0, 5, AT).newer_than(Version(0, 4, AT))
    assert Version(0, 5, AT).newer_than(Version(0, 4, AT.replace(year=2099)))  # a date far ahead locks nothing
    assert not Version(0, 4, AT.replace(year=2099)).newer_than(Version(0, 4, AT))


def test_a_batch_keeps_the_newest_record_of_each_participant_whatever_their_order():
    def record(phone, offset, at):
        msg = benefits.ContactDetailsChanged(participant_code="0123456789", phone=phone, channels=["sms"])
        return store_contact(incoming("participants.contacts", msg, offset=offset, at=at))
    newest = newest_per_participant([record("+84900000002", 7, AT.replace(hour=10)),
                                     record("+84900000001", 3, AT.replace(hour=11))])
    assert [c.contact.phone for c in newest] == ["+84900000002"]  # the higher offset, though dated earlier


def test_a_tombstone_later_on_the_topic_erases_and_an_earlier_one_loses_to_the_record_after_it():
    def record(offset):
        msg = benefits.ContactDetailsChanged(participant_code="0123456789", phone="+84900000001")
        return store_contact(incoming("participants.contacts", msg, offset=offset))
    tombstone = contact_command(Tombstone(RawMessage("participants.contacts", 0, 5, b"0123456789", None)))
    assert isinstance(tombstone, EraseContact) and tombstone.participant_code == "0123456789"
    assert newest_per_participant([record(4), tombstone]) == [tombstone]
    assert [type(c) for c in newest_per_participant([tombstone, record(6)])] == [StoreContact]


def test_the_same_tombstone_always_has_the_same_id_and_another_offset_another():
    def tombstone(offset):
        return Tombstone(RawMessage("participants.contacts", 0, offset, b"0123456789", None))
    assert tombstone(3).envelope.event_id == tombstone(3).envelope.event_id != tombstone(4).envelope.event_id


def test_a_tombstone_whose_key_is_not_a_participant_code_is_refused():
    for key in (b"k", b"012345678", b"01234567890", "012345678١".encode()):
        try:
            contact_command(Tombstone(RawMessage("participants.contacts", 0, 1, key, None)))
        except InvalidTombstoneKey as exc:
            assert "012345678" not in str(exc)  # the reason does not repeat the key
        else:
            raise AssertionError(f"accepted key {key!r}")


def test_only_a_decoder_that_asks_for_tombstones_gets_them():
    raw = RawMessage("participants.contacts", 0, 1, b"0123456789", None)
    assert isinstance(Decoder(spec("participants.contacts").messages, tombstones=True).decode(raw), Tombstone)
    try:
        Decoder(spec("participants.contacts").messages).decode(raw)
    except DecodeError as exc:
        assert exc.code == "invalid_envelope"
    else:
        raise AssertionError("a tombstone decoded without being asked for")


def test_quiet_hours_arrive_as_times_and_equal_times_mean_none():
    def quiet(start, end):
        msg = benefits.ContactDetailsChanged(participant_code="0123456789", sms_quiet_hours={"start": start,
                                                                                              "end": end})
        c = store_contact(incoming("participants.contacts", msg)).contact
        return c.quiet_from, c.quiet_until
    assert quiet("22:00", "07:00") == (time(22), time(7))
    assert quiet("12:00", "12:00") == (time(12), time(12))  # kept: "none", not "the service's default"


# ---- composing -----------------------------------------------------------------------------------------
def test_each_trigger_is_rendered_once_per_channel_in_the_participants_language():
    [trigger] = effects_of([incoming("benefits.awards", awarded())]).triggers
    contacts = {"0123456789": Contact("0123456789", "en", phone="+84912345678", email="an@example.vn",
                                      channels=("email", "sms"))}
    composed = compose([trigger], contacts, {}, Renderer())
    assert [(n.channel, n.recipient, n.language) for n in composed.notifications] == \
        [("email", "an@example.vn", "en"), ("sms", "+84912345678", "en")]
    assert all(n.event_id == trigger.event_id and n.triggered_at == AT for n in composed.notifications)
    assert composed.notifications[0].subject == "Your old-age pension has been awarded"
    assert composed.without_contact == []


def test_a_trigger_for_a_participant_without_a_usable_contact_is_counted_not_rendered():
    [trigger] = effects_of([incoming("benefits.awards", awarded())]).triggers
    composed = compose([trigger], {"0123456789": Contact("0123456789", "vi")}, {}, Renderer())
    assert composed.notifications == [] and composed.without_contact == ["benefit_awarded"]
    assert compose([trigger], {}, {}, Renderer()).without_contact == ["benefit_awarded"]


def test_a_known_award_supplies_the_beneficiary_benefit_type_and_masked_account():
    suspended = benefits.BenefitSuspended(award_id="AW-1", from_period="2025-09", reason="Chưa cập nhật giấy tờ")
    [trigger] = effects_of([incoming("benefits.awards", suspended, key=b"")]).triggers
    award = AwardFacts(None, "AW-1", "0123456789", "unemployment_benefit", "4567")
    contacts = {"0123456789": Contact("0123456789", "vi", phone="+84912345678")}
    [sms] = compose([trigger], contacts, {"AW-1": award}, Renderer()).notifications
    assert sms.participant_code == "0123456789"
    assert sms.body.startswith("BHXH: Tạm dừng hưởng trợ cấp thất nghiệp từ tháng 09/2025.")


# ---- the monthly digest ----------------------------------------------------------------------------------
def test_a_digest_sums_every_employer_of_the_worker_for_the_month():
    digest = summed([DigestPart("0123456789", "2025-07", "DN0001", 0, 10_000_000, 900_000, 1_700_000),
                     DigestPart("0123456789", "2025-07", "DN0002", 2, 5_000_000, 450_000, 850_000)])
    assert (digest.employers, digest.declared_salary, digest.employee_amount, digest.employer_amount,
            digest.total) == (2, 15_000_000, 1_350_000, 2_550_000, 3_900_000)
    trigger = digest_trigger(digest, AT)
    assert trigger.event_id == digest_event_id("0123456789", "2025-07") != digest_event_id("0123456789", "2025-08")
    assert trigger.inputs["total"] == 3_900_000 and trigger.triggered_at == AT


def test_a_digest_is_due_at_the_end_of_the_business_day_in_ho_chi_minh_city():
    # 2025-08-01 20:00 UTC is already 2025-08-02 03:00 in Vietnam (UTC+7): due at the end of 2 August there.
    late = datetime(2025, 8, 1, 20, 0, tzinfo=timezone.utc)
    assert due_at(late) == datetime(2025, 8, 2, 17, 0, tzinfo=timezone.utc)
    assert due_at(AT) == datetime(2025, 8, 1, 17, 0, tzinfo=timezone.utc)
    assert due_at(AT, 30) == AT.replace(second=30)


# ---- every payments.events type, from the wire to rendered text --------------------------------------------
PAYMENT = dict(payment_id="P-1", beneficiary_code="0123456789", award_id="AW-1", period="2025-07", amount=5_500_000)
PAYMENT_EVENTS = {
    "payment_sent": payments.PaymentSent(**PAYMENT, channel="bank", bank_bin="970436", attempt=1),
    "payment_settled": payments.PaymentSettled(**PAYMENT, channel="bank", bank_bin="970436", attempt=1),
    "payment_rejected": payments.PaymentRejected(**PAYMENT, channel="bank", bank_bin="970436", attempt=1,
                                                 reason_code="AM04", next_step="retry"),
    "payment_rerouted_to_cash": payments.PaymentReroutedToCash(
        **PAYMENT, channel="cash", paying_office="BD-HN-01", reason_code="AC04", pay_from="2025-08-01",
        pay_until="2025-10-31"),
    "payment_returned": payments.PaymentReturned(**PAYMENT, channel="bank", reason_code="AC04", attempts=3),
    "payments_suspended": payments.PaymentsSuspendedForNonCollection(
        beneficiary_code="0123456789", award_id="AW-1", from_period="2026-01",
        unclaimed_periods=[f"2025-{m:02d}" for m in range(7, 13)]),
}


def test_every_payment_event_that_concerns_the_beneficiary_renders_in_both_languages_on_every_channel():
    award = AwardFacts(None, "AW-1", "0123456789", "survivor_allowance", "4567")
    for language in ("vi", "en"):
        contacts = {"0123456789": Contact("0123456789", language, phone="+84912345678", email="a@b.vn",
                                          app_token="fcm:1")}
        for message_type, event in PAYMENT_EVENTS.items():
            [trigger] = effects_of([incoming("payments.events", event)]).triggers
            assert trigger.message_type == message_type
            composed = compose([trigger], contacts, {"AW-1": award}, Renderer())
            assert [n.channel for n in composed.notifications] == ["email", "sms", "push"]
            assert all(n.body for n in composed.notifications)


def test_a_rerouted_payment_says_where_and_until_when_to_collect_the_cash():
    [trigger] = effects_of([incoming("payments.events", PAYMENT_EVENTS["payment_rerouted_to_cash"])]).triggers
    contacts = {"0123456789": Contact("0123456789", "vi", phone="+84912345678")}
    [sms] = compose([trigger], contacts, {}, Renderer()).notifications
    assert sms.body == ("BHXH: Khoản 5.500.000 ₫ tháng 07/2025 sẽ chi trả bằng tiền mặt tại BD-HN-01 "
                        "đến 31/10/2025. Mang theo căn cước.")


def test_a_suspension_for_non_collection_names_its_first_month_and_the_months_left_unclaimed():
    [trigger] = effects_of([incoming("payments.events", PAYMENT_EVENTS["payments_suspended"])]).triggers
    assert (trigger.inputs["period"], trigger.inputs["unclaimed"]) == ("2026-01", 6)
    contacts = {"0123456789": Contact("0123456789", "en", email="a@b.vn")}
    [mail] = compose([trigger], contacts, {}, Renderer()).notifications
    assert "cash payments of 6 months in a row were not collected" in mail.body and "from 01/2026" in mail.body


def test_a_rejection_followed_by_cash_or_a_return_is_told_once_by_that_next_event():
    rejected = PAYMENT_EVENTS["payment_rejected"]
    for step in ("reroute", "return"):
        event = payments.PaymentRejected(**{**rejected.model_dump(), "next_step": step})
        assert effects_of([incoming("payments.events", event)]).triggers == []
    assert len(effects_of([incoming("payments.events", rejected)]).triggers) == 1


def test_a_cash_payment_sent_says_it_is_ready_at_the_paying_office():
    sent = payments.PaymentSent(**PAYMENT, channel="cash", paying_office="BD-HN-01", attempt=1)
    [trigger] = effects_of([incoming("payments.events", sent)]).triggers
    contacts = {"0123456789": Contact("0123456789", "vi", phone="+84912345678")}
    [sms] = compose([trigger], contacts, {}, Renderer()).notifications
    assert sms.body == "BHXH: 5.500.000 ₫ chế độ bảo hiểm xã hội tháng 07/2025 đã sẵn sàng nhận tiền mặt tại BD-HN-01."


def test_a_collected_cash_payment_and_a_fraud_flag_tell_the_beneficiary_nothing():
    collected = payments.CashPaymentCollected(**PAYMENT, channel="cash", paying_office="BD-HN-01")
    flagged = payments.PaymentFlagged(signal="shared_account", beneficiary_code="0123456789", detail="review")
    assert effects_of([incoming("payments.events", collected), incoming("payments.events", flagged)]).triggers == []


def test_an_event_delivered_twice_in_one_batch_has_its_effects_once():
    item = incoming("benefits.awards", awarded())
    effects = effects_of([item, item])
    assert len(effects.triggers) == 1 and len(effects.awards) == 1


def test_kept_template_inputs_come_back_as_they_were_kept():
    from datetime import date

    from services.notifications.repository import _inputs_json, _inputs_of
    inputs = {"amount": 5_500_000, "as_of": date(2025, 8, 1), "periods": ["2025-06", "2025-07"], "account": None,
              "at": AT, "benefit_type": "pension"}
    assert _inputs_of(_inputs_json(inputs)) == inputs
