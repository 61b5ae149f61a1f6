"""The payment state machine: which reports move a payment, which change nothing, what follows a rejection."""
import pytest

from services.payments.domain.states import (RetryPolicy, State, after_rejection, bank_step, cash_step,
                                             retry_end_to_end_id)


@pytest.mark.parametrize("code, target", [("ACTC", State.ACCEPTED), ("ACCP", State.ACCEPTED),
                                          ("ACSC", State.SETTLED), ("RJCT", State.REJECTED)])
def test_a_sent_payment_moves_with_the_banks_status(code, target):
    assert bank_step(State.SENT, 1, 1, code).outcome == "changed"
    assert bank_step(State.SENT, 1, 1, code).state == target


def test_an_accepted_payment_settles():
    assert bank_step(State.ACCEPTED, 1, 1, "ACSC").state == State.SETTLED


def test_the_same_status_twice_is_a_duplicate_and_changes_nothing():
    step = bank_step(State.ACCEPTED, 1, 1, "ACTC")
    assert (step.outcome, step.state) == ("duplicate", State.ACCEPTED)


def test_an_acceptance_arriving_after_settlement_is_late_and_changes_nothing():
    step = bank_step(State.SETTLED, 1, 1, "ACTC")
    assert (step.outcome, step.state) == ("late", State.SETTLED)


def test_a_rejection_after_settlement_changes_nothing():
    assert bank_step(State.SETTLED, 1, 1, "RJCT").state == State.SETTLED


def test_a_report_about_an_earlier_attempt_is_late():
    step = bank_step(State.SENT, 2, 1, "ACSC")
    assert (step.outcome, step.state) == ("late", State.SENT)


def test_a_settlement_reported_twice_is_a_duplicate():
    assert bank_step(State.SETTLED, 1, 1, "ACSC").outcome == "duplicate"


def test_a_rejection_reported_twice_is_a_duplicate_and_an_acceptance_after_it_is_late():
    assert bank_step(State.REJECTED, 1, 1, "RJCT").outcome == "duplicate"
    assert bank_step(State.REJECTED, 1, 1, "ACTC").outcome == "late"


def test_a_report_on_a_payment_moved_to_cash_changes_nothing():
    assert bank_step(State.REROUTED, 1, 1, "ACSC").outcome == "late"


def test_a_pending_status_keeps_the_payment_where_it_is():
    assert bank_step(State.SENT, 1, 1, "PDNG").state == State.SENT


def test_a_status_for_a_payment_never_approved_is_refused():
    with pytest.raises(ValueError, match="created"):
        bank_step(State.CREATED, 1, 1, "ACSC")


def test_an_unknown_status_code_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        bank_step(State.SENT, 1, 1, "XXXX")


@pytest.mark.parametrize("reason", ["AC01", "AC04", "AC06", "BE01"])
def test_an_account_problem_moves_the_payment_to_cash(reason):
    assert after_rejection(reason, 1, True, RetryPolicy()) == "reroute"


def test_an_account_problem_without_a_paying_office_is_returned():
    assert after_rejection("AC04", 1, False, RetryPolicy()) == "return"


def test_other_rejections_are_retried_until_the_attempts_are_used_up():
    policy = RetryPolicy(max_attempts=3)
    assert after_rejection("AM04", 1, True, policy) == "retry"
    assert after_rejection("AM04", 2, True, policy) == "retry"
    assert after_rejection("AM04", 3, True, policy) == "return"
    assert after_rejection(None, 3, True, policy) == "return"


def test_the_backoff_doubles_and_is_capped():
    policy = RetryPolicy(first_delay_seconds=60, max_delay_seconds=200)
    assert [policy.delay(a) for a in (1, 2, 3, 4)] == [60, 120, 200, 200]


def test_a_cash_payment_is_paid_or_stays_unclaimed_once():
    assert cash_step(State.SENT, "paid").state == State.PAID
    assert cash_step(State.REROUTED, "unclaimed").state == State.UNCLAIMED
    assert cash_step(State.PAID, "paid").outcome == "duplicate"
    assert cash_step(State.PAID, "unclaimed").outcome == "late"


def test_a_retry_gets_a_new_end_to_end_id_within_35_characters():
    first = "A" * 35
    second = retry_end_to_end_id(first, 2)
    assert second != first and len(second) == 35 and second.endswith("-R02")
    assert retry_end_to_end_id("PAY-1", 1) == "PAY-1"
    assert retry_end_to_end_id("PAY-1", 3) == "PAY-1-R03"
