"""Allocating employers' money: oldest period first, then the fund order; leftovers become credit."""
from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.collection.domain.allocation import (CreditLot, Ledger, Obligation, PaidBy, add_lot, allocate,
                                                  apply_credit, release)
from ansinh.runtime.errors import PermanentError
from services.collection.domain.errors import ReleaseNotCovered
from services.collection.domain.law import load_law
from services.collection.domain.model import Period

ORDER = load_law().allocation_order_on(date(2025, 8, 1))
MAY, JUNE = Period(2025, 5), Period(2025, 6)


def test_the_default_order_is_health_unemployment_accident_sickness_retirement_then_interest():
    assert ORDER == ("health", "unemployment", "accident", "sickness_maternity", "retirement", "interest")


def test_a_partial_payment_covers_the_oldest_period_first_in_fund_order():
    obligations = [Obligation(JUNE, "health", 450_000), Obligation(MAY, "retirement", 2_200_000),
                   Obligation(MAY, "health", 450_000), Obligation(MAY, "unemployment", 200_000)]
    lines, left = allocate(obligations, 1_000_000, ORDER)
    assert lines == [(MAY, "health", 450_000), (MAY, "unemployment", 200_000), (MAY, "retirement", 350_000)]
    assert left == 0


def test_an_overpayment_leaves_the_rest_as_credit():
    lines, left = allocate([Obligation(MAY, "health", 450_000)], 500_000, ORDER)
    assert lines == [(MAY, "health", 450_000)] and left == 50_000


def test_a_payment_with_nothing_open_is_all_credit():
    assert allocate([], 750_000, ORDER) == ([], 750_000)


def test_credit_lots_are_used_oldest_first_and_keep_their_payment_and_value_date():
    lots = [CreditLot("P2", date(2025, 6, 20), 300_000), CreditLot("P1", date(2025, 6, 1), 100_000)]
    used, left = apply_credit(lots, [Obligation(JUNE, "health", 250_000)], ORDER)
    assert [(lot.payment_id, lines) for lot, lines in used] == [("P1", [(JUNE, "health", 100_000)]),
                                                                ("P2", [(JUNE, "health", 150_000)])]
    assert left == [CreditLot("P2", date(2025, 6, 20), 150_000)]


def test_a_release_gives_back_the_newest_allocations_first_keeping_each_payments_id_and_value_date():
    paid = [PaidBy("P1", date(2025, 8, 10), 1_000_000, latest=3), PaidBy("P2", date(2025, 8, 20), 1_200_000, latest=7)]
    assert release(paid, 1_100_000) == [CreditLot("P2", date(2025, 8, 20), 1_100_000)]
    assert release(paid, 1_500_000) == [CreditLot("P2", date(2025, 8, 20), 1_200_000),
                                        CreditLot("P1", date(2025, 8, 10), 300_000)]


def test_a_release_larger_than_what_the_allocations_paid_is_refused_rather_than_invented():
    # A permanent refusal with a code: the declaration goes to the DLQ with this reason, nothing is credited.
    with pytest.raises(ReleaseNotCovered, match="release_not_covered: .* releases 600000 VND, .* cover 500000 VND") \
            as refused:
        release([PaidBy("P1", date(2025, 8, 10), 500_000, latest=1)], 600_000)
    assert isinstance(refused.value, PermanentError) and refused.value.code == "release_not_covered"


def test_money_returning_to_a_payment_already_in_credit_joins_its_lot():
    lots = [CreditLot("P1", date(2025, 8, 10), 100_000)]
    assert add_lot(lots, CreditLot("P1", date(2025, 8, 10), 50_000)) == [CreditLot("P1", date(2025, 8, 10), 150_000)]
    assert add_lot(lots, CreditLot("P2", date(2025, 8, 20), 5)) == lots + [CreditLot("P2", date(2025, 8, 20), 5)]


@given(st.lists(st.integers(min_value=1, max_value=10_000_000), min_size=1, max_size=8, unique=False), st.data())
def test_a_release_gives_back_exactly_what_is_asked_never_more_than_a_payment_paid_newest_first(amounts, data):
    paid = [PaidBy(f"P{i}", date(2025, 8, 1 + i), amount, latest=i) for i, amount in enumerate(amounts)]
    asked = data.draw(st.integers(min_value=0, max_value=sum(amounts)))
    lots = release(paid, asked)
    assert sum(l.remaining for l in lots) == asked
    by_id = {p.payment_id: p for p in paid}
    assert all(0 < l.remaining <= by_id[l.payment_id].amount and l.value_date == by_id[l.payment_id].value_date
               for l in lots)
    # Newest first: every payment released from, except the last one, gave back all it had paid.
    assert [l.payment_id for l in lots] == [p.payment_id for p in reversed(paid)][:len(lots)]
    assert all(l.remaining == by_id[l.payment_id].amount for l in lots[:-1])


def test_a_ledger_allocates_payments_in_order_using_credit_first_and_keeps_what_is_left_for_the_next():
    july, august = Period(2025, 7), Period(2025, 8)
    ledger = Ledger({"DN1": [Obligation(july, "retirement", 300), Obligation(august, "retirement", 500)]},
                    {"DN1": [CreditLot("OLD", date(2025, 7, 1), 100)]})
    used, after_credit, lines, balance = ledger.pay("DN1", "P1", 250, date(2025, 8, 5), ORDER, ORDER)
    assert used == [(CreditLot("OLD", date(2025, 7, 1), 100), [(july, "retirement", 100)])] and after_credit == 0
    assert (lines, balance) == ([(july, "retirement", 200), (august, "retirement", 50)], 0)
    # The second payment sees what the first one left open, and its surplus becomes credit.
    used, _, lines, balance = ledger.pay("DN1", "P2", 600, date(2025, 8, 20), ORDER, ORDER)
    assert (used, lines, balance) == ([], [(august, "retirement", 450)], 150)
    assert ledger.lots_of["DN1"] == [CreditLot("P2", date(2025, 8, 20), 150)] and ledger.changed == {"DN1"}
    assert [(p, lines) for _, p, _, lines in ledger.allocations] == [
        ("OLD", [(july, "retirement", 100)]), ("P1", [(july, "retirement", 200), (august, "retirement", 50)]),
        ("P2", [(august, "retirement", 450)])]


def test_a_ledger_payment_of_an_employer_without_debts_or_credit_becomes_its_credit():
    ledger = Ledger({}, {})
    assert ledger.pay("DN2", "P9", 700, date(2025, 8, 1), ORDER, ORDER) == ([], 0, [], 700)
    assert ledger.lots_of["DN2"] == [CreditLot("P9", date(2025, 8, 1), 700)] and ledger.changed == {"DN2"}
