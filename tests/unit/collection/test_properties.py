"""Properties that must hold for every input, to the dong (hypothesis generates the cases)."""
from __future__ import annotations

from dataclasses import replace
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from services.collection.domain.allocation import CreditLot, Obligation, allocate, apply_credit
from services.collection.domain.assessment import assess, revise
from services.collection.domain.law import load_law
from services.collection.domain.model import Declaration, Period

LAW = load_law()
FUNDS = ("sickness_maternity", "accident", "retirement", "health", "unemployment")
ORDER = LAW.allocation_order_on(date(2025, 8, 1))

periods = st.builds(Period, st.integers(2022, 2026), st.integers(1, 12)).filter(
    lambda p: p >= Period(2022, 7))
declarations = st.builds(
    Declaration, st.just("DN0001"), st.integers(1, 4), st.booleans(), periods, st.just("0123456789"),
    st.just("Vũ Thị Lan"), st.just("001090012345"), st.integers(0, 2_000_000_000),
    st.sets(st.sampled_from(FUNDS), min_size=1).map(lambda s: tuple(sorted(s))), st.integers(0, 5))
obligations = st.lists(st.builds(Obligation, periods, st.sampled_from(FUNDS), st.integers(1, 50_000_000)),
                       max_size=12, unique_by=lambda o: (o.period, o.fund))


@settings(max_examples=300)
@given(declarations)
def test_an_assessment_is_the_sum_of_its_rounded_lines_on_bases_within_floor_and_caps(d):
    a = assess(LAW, d)
    assert a.total == sum(amount for _, _, amount in a.lines)
    assert all(amount >= 0 for _, _, amount in a.lines)
    assert {fund for fund, _, _ in a.lines} == set(d.funds)
    assert a.floor <= a.social_base <= max(a.floor, 20 * LAW.base_salary_on(d.period.first_day))
    assert a.floor <= a.unemployment_base <= 20 * a.floor
    for fund, party, amount in a.lines:  # each line within half a dong of the exact product
        base = a.unemployment_base if fund == "unemployment" else a.social_base
        rate = LAW.rates_on(d.period.first_day)[fund]
        bps = rate.employee_bps if party == "employee" else (
            rate.reduced_employer_bps if fund == "accident" and d.reduced_accident_rate else rate.employer_bps)
        assert abs(amount * 10000 - base * bps) <= 5000


@settings(max_examples=300)
@given(declarations, st.integers(0, 2_000_000_000))
def test_a_revision_moves_the_obligation_by_exactly_the_difference(d, new_salary):
    first = assess(LAW, d)
    later = assess(LAW, replace(d, salary=new_salary, revision=d.revision + 1))
    outcome = revise(first, later)
    assert outcome.kind == "adjustment"
    assert first.total + outcome.delta_total == later.total


@settings(max_examples=300)
@given(obligations, st.integers(1, 300_000_000))
def test_allocation_never_pays_more_than_owed_nor_loses_a_dong(open_items, amount):
    lines, left = allocate(open_items, amount, ORDER)
    owed = {(o.period, o.fund): o.outstanding for o in open_items}
    assert sum(a for _, _, a in lines) + left == amount
    assert all(0 < a <= owed[(p, f)] for p, f, a in lines)
    assert left == 0 or sum(a for _, _, a in lines) == sum(owed.values())
    periods_paid = [p for p, _, _ in lines]
    assert periods_paid == sorted(periods_paid)  # oldest period first


@settings(max_examples=200)
@given(obligations, st.lists(st.integers(1, 20_000_000), min_size=1, max_size=4))
def test_credit_is_applied_without_creating_or_losing_money(open_items, amounts):
    lots = [CreditLot(f"P{i}", date(2025, 7, 1 + i), a) for i, a in enumerate(amounts)]
    used, left = apply_credit(lots, open_items, ORDER)
    spent = sum(a for _, lines in used for _, _, a in lines)
    assert spent + sum(l.remaining for l in left) == sum(amounts)
    owed = {(o.period, o.fund): o.outstanding for o in open_items}
    for _, lines in used:
        for p, f, a in lines:
            owed[(p, f)] -= a
    assert all(v >= 0 for v in owed.values())
