"""Entitlement rules: which award events are taken, which are refused (and why), and what a run would pay."""
from datetime import date

import pytest

from services.payments.domain import entitlements as rules
from services.payments.domain.entitlements import Channel, Entitlement
from services.payments.domain.errors import BeneficiaryIsDeceased, ImpossibleTransition, InvalidAward, UnknownAward

JAN, FEB, MAR, APR, MAY = (date(2026, m, 1) for m in range(1, 6))
BANK = Channel("bank", "970436", "0011001234567", "LE VAN CUONG")
CASH = Channel("cash", paying_office="BC-HN-001")


def award(**changes) -> Entitlement:
    base = dict(award_id="AW-1", beneficiary_code="0123456789", beneficiary_name="Lê Văn Cường",
                citizen_id="001090012345", benefit_type="old_age_pension", amount=5_500_000, recurrence="monthly",
                first_period=JAN, last_period=None, channel=BANK, channel_from=JAN)
    return Entitlement(**{**base, **changes})


def test_a_new_award_is_awarded_and_paid_from_its_first_month():
    a = award(first_period=FEB, channel_from=FEB)
    assert rules.check_award(None, None, a) == "awarded"
    assert not rules.is_payable(a, JAN)
    assert rules.is_payable(a, FEB) and rules.is_payable(a, MAY)


def test_a_monthly_award_is_not_paid_after_its_last_month():
    a = award(last_period=MAR)
    assert rules.is_payable(a, MAR) and not rules.is_payable(a, APR)


def test_the_same_award_again_changes_nothing_and_another_amount_is_an_amendment():
    a = award()
    assert rules.check_award(a, None, award()) == "unchanged"
    assert rules.check_award(a, None, award(amount=6_000_000)) == "amended"


def test_an_amendment_keeps_the_awards_suspension():
    suspended = rules.apply_status(award(), "suspended", MAR)
    amended = rules.apply_award(suspended, award(amount=6_000_000))
    assert amended.amount == 6_000_000 and rules.status_in(amended, MAR) == "suspended"


def test_an_award_for_someone_recorded_as_deceased_is_refused():
    with pytest.raises(BeneficiaryIsDeceased) as refused:
        rules.check_award(None, date(2025, 12, 3), award())
    assert refused.value.code == "beneficiary_deceased"


def test_an_award_whose_last_month_is_before_its_first_is_refused():
    with pytest.raises(InvalidAward):
        rules.check_award(None, None, award(first_period=MAR, last_period=FEB))


def test_an_award_id_reused_for_another_beneficiary_is_refused():
    with pytest.raises(InvalidAward):
        rules.check_award(award(), None, award(beneficiary_code="0999999999"))


@pytest.mark.parametrize("check", [rules.check_suspension, rules.check_termination, rules.check_channel_change])
def test_an_event_for_an_unknown_award_is_refused(check):
    with pytest.raises(UnknownAward) as refused:
        check(None)
    assert refused.value.code == "unknown_award" and "award_id" in str(refused.value)


def test_a_suspension_stops_payment_from_its_month_and_a_resumption_restarts_it():
    suspended = rules.apply_status(award(), "suspended", MAR)
    assert rules.is_payable(suspended, FEB) and not rules.is_payable(suspended, MAR)
    assert rules.check_resumption(suspended, MAY) == "resumed"
    resumed = rules.apply_status(suspended, "active", MAY)
    assert not rules.is_payable(resumed, APR) and rules.is_payable(resumed, MAY)


def test_a_terminated_award_is_never_resumed():
    terminated = rules.apply_status(award(), "terminated", MAR)
    with pytest.raises(ImpossibleTransition) as refused:
        rules.check_resumption(terminated, APR)
    assert refused.value.code == "impossible_transition"


def test_resuming_an_award_that_is_not_suspended_is_refused():
    with pytest.raises(ImpossibleTransition):
        rules.check_resumption(award(), APR)


def test_a_suspension_of_a_terminated_award_is_only_recorded():
    terminated = rules.apply_status(award(), "terminated", MAR)
    assert rules.check_suspension(terminated) == "recorded"
    assert rules.apply_status(terminated, "suspended", FEB) == terminated


def test_death_stops_payment_from_the_month_of_death():
    dead = rules.apply_death(award(), date(2026, 3, 17))
    assert rules.is_payable(dead, FEB) and not rules.is_payable(dead, MAR) and not rules.is_payable(dead, MAY)


@pytest.mark.parametrize("check", [lambda e: rules.check_resumption(e, MAY), rules.check_channel_change])
def test_a_resumption_or_a_new_channel_for_a_deceased_beneficiary_is_refused(check):
    dead = rules.apply_death(rules.apply_status(award(), "suspended", FEB), date(2026, 3, 17))
    with pytest.raises(BeneficiaryIsDeceased):
        check(dead)


def test_termination_and_suspension_of_a_deceased_beneficiary_are_records():
    dead = rules.apply_death(award(), date(2026, 3, 17))
    assert rules.check_termination(dead) == "recorded" and rules.check_suspension(dead) == "recorded"


def test_a_one_off_award_is_payable_from_its_month_whatever_its_last_month():
    one_off = award(recurrence="one_off", last_period=None, first_period=FEB, amount=12_000_000)
    assert not rules.is_payable(one_off, JAN) and rules.is_payable(one_off, FEB) and rules.is_payable(one_off, MAY)


def test_refusals_name_fields_and_never_the_beneficiarys_values():
    a = award()
    for refusal in (lambda: rules.check_award(None, date(2025, 1, 1), a),
                    lambda: rules.check_award(a, None, award(beneficiary_code="0999999999")),
                    lambda: rules.check_resumption(rules.apply_status(a, "terminated", FEB), MAR)):
        with pytest.raises(Exception) as refused:
            refusal()
        for value in (a.beneficiary_code, a.beneficiary_name, a.citizen_id, BANK.account_number, "0999999999"):
            assert value not in str(refused.value)
