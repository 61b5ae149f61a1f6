"""Assessing a declaration: floor, caps, rates, rounding, due date; and superseding revisions.

Rounding rule: each fund-and-party amount is ``salary base x rate``, rounded half up to the dong
(integer arithmetic on basis points, never floats); totals are sums of the rounded parts.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from services.collection.domain.errors import ImplausibleSalary, PeriodTooFarAhead
from services.collection.domain.law import Law
from services.collection.domain.model import Assessment, Declaration, Line, Period

SOCIAL_FUNDS = ("sickness_maternity", "accident", "retirement", "health")


def round_half_up(amount: int, bps: int) -> int:
    """``amount x bps / 10000`` rounded half up, for non-negative integers."""
    return (amount * bps + 5000) // 10000


def due_date(law: Law, period: Period) -> date:
    """The last day to pay contributions for ``period`` under the rule in force for that period."""
    rule = law.due_rule_for(period.first_day)
    if rule == "end_of_period_month":
        return period.last_day
    if rule == "end_of_following_month":
        return period.plus(1).last_day
    raise ValueError(f"unknown due-date rule {rule!r} in the law tables")


def check_declaration(law: Law, declaration: Declaration, business_date: date) -> None:
    """Refuse what no payroll system should send: far-future periods, absurd salaries, periods without law."""
    latest = Period.of(business_date).plus(law.max_periods_ahead)
    if declaration.period > latest:
        raise PeriodTooFarAhead(
            f"period {declaration.period} is more than {law.max_periods_ahead} month(s) ahead of the business "
            f"date {business_date.isoformat()}; declare it when the month comes")
    if declaration.salary > law.max_monthly_salary:
        raise ImplausibleSalary(
            f"contribution salary {declaration.salary:,} VND exceeds the plausibility limit of "
            f"{law.max_monthly_salary:,} VND a month; check the amount's unit (VND, not hao or xu)")


@dataclass(frozen=True)
class Terms:
    """Everything the law fixes for one period, region and accident-rate status (computed once)."""

    floor: int
    social_cap: int
    unemployment_cap: int
    due_date: date
    # (fund, party, basis points) for every fund, in display order; zero rates left out
    rates: tuple[tuple[str, str, int], ...]


@lru_cache(maxsize=4096)
def terms(law: Law, period: Period, region: int, reduced_accident_rate: bool) -> Terms:
    day = period.first_day
    floor = law.minimum_wage_on(day, region)
    caps = law.caps_on(day)
    rates = []
    for fund, rate in sorted(law.rates_on(day).items(), key=lambda kv: _fund_order(kv[0])):
        employer_bps = rate.employer_bps
        if fund == "accident" and reduced_accident_rate and rate.reduced_employer_bps is not None:
            employer_bps = rate.reduced_employer_bps
        rates += [(fund, party, bps) for party, bps in (("employer", employer_bps), ("employee", rate.employee_bps))
                  if bps]
    return Terms(floor, caps.social_health_base_salary_multiple * law.base_salary_on(day),
                 caps.unemployment_minimum_wage_multiple * floor, due_date(law, period), tuple(rates))


@lru_cache(maxsize=4096)
def _rates_for(t: Terms, funds: tuple[str, ...]) -> tuple[tuple[str, str, int, bool], ...]:
    """The rates of the funds a worker is in: (fund, party, basis points, assessed on the unemployment base)."""
    return tuple((fund, party, bps, fund == "unemployment") for fund, party, bps in t.rates if fund in funds)


def assess(law: Law, declaration: Declaration) -> Assessment:
    """The contribution owed per fund and party for one declaration (``check_declaration`` first)."""
    t = terms(law, declaration.period, declaration.region, declaration.reduced_accident_rate)
    floored = max(declaration.salary, t.floor)
    social_base = min(floored, t.social_cap)
    unemployment_base = min(floored, t.unemployment_cap)
    funds = declaration.funds
    # round_half_up, inlined: this line runs eight times per declaration, twenty million times a month.
    lines = tuple([(fund, party, ((unemployment_base if on_unemployment else social_base) * bps + 5000) // 10000)
                   for fund, party, bps, on_unemployment in _rates_for(t, funds)])
    in_unemployment = "unemployment" in funds
    cap_applied = floored > t.social_cap or (in_unemployment and floored > t.unemployment_cap)
    return Assessment(
        employer_code=declaration.employer_code, worker_code=declaration.worker_code, period=declaration.period,
        revision=declaration.revision, declared_salary=declaration.salary, social_base=social_base,
        unemployment_base=unemployment_base, floor=t.floor, floor_applied=declaration.salary < t.floor,
        cap_applied=cap_applied, due_date=t.due_date, lines=lines)


def _fund_order(fund: str) -> int:
    return ("sickness_maternity", "accident", "retirement", "health", "unemployment").index(fund)


@dataclass(frozen=True, slots=True)  # slots: one of these per declaration, built faster
class Revised:
    """The outcome of a declaration against what is already assessed for its employer, worker and period."""

    kind: str  # "initial" | "adjustment" | "stale"
    assessment: Assessment | None
    previous: Assessment | None
    delta: tuple[Line, ...]

    @property
    def delta_total(self) -> int:
        return sum(a for _, _, a in self.delta)


def revise(current: Assessment | None, new: Assessment) -> Revised:
    """A higher revision supersedes; the difference per fund and party is the adjustment.

    An older or equal revision arriving late changes nothing (``stale``).
    """
    if current is None:
        return Revised("initial", new, None, new.lines)
    if new.revision <= current.revision:
        return Revised("stale", None, current, ())
    return Revised("adjustment", new, current, difference(current.lines, new.lines))


def difference(old: tuple[Line, ...], new: tuple[Line, ...]) -> tuple[Line, ...]:
    """``new - old`` per (fund, party), zero differences left out."""
    amounts: dict[tuple[str, str], int] = {}
    for fund, party, amount in new:
        amounts[(fund, party)] = amounts.get((fund, party), 0) + amount
    for fund, party, amount in old:
        amounts[(fund, party)] = amounts.get((fund, party), 0) - amount
    return tuple((f, p, a) for (f, p), a in sorted(amounts.items(), key=lambda kv: (_fund_order(kv[0][0]), kv[0][1]))
                 if a != 0)
