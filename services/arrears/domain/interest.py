"""Late-payment interest, day by day: the reference statement of the rule (the run's SQL must agree with it).

The conventions (docs/arrears.md#rules):

* The first day late is the day after the due date. The due date itself is never late.
* A day d accrues on the principal unpaid at the end of day d: the principal (with every adjustment, up or
  down, as from the due date: a revision corrects what was owed for the month) minus every payment line with
  value date <= d. So a payment with value date d stops interest from day d on, a partial payment lowers
  the base from its value date, and a payment on the due date or before leaves nothing to accrue.
* The rule is the one in force on the day (a debt spanning 2025-07-01 is charged segment by segment), and
  the day accrues only when it is at least the rule's ``min_days_late`` days after the due date (1 under
  Law 41/2024; 30 under Law 58/2014).
* Rounding: each day's interest is rounded half up to the dong, on its own, in integers. Per day because the
  law states the rate per day, and because then the figure does not depend on how days are grouped into
  runs: a daily run, a 30-day catch-up and a recomputation after a backdated payment give the same dong.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from services.arrears.domain.law import Law

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Debt:
    """One employer's contributions for one period and fund, as arrears knows them."""

    due_date: date
    principal: int
    payments: tuple[tuple[date, int], ...] = field(default=())  # (value date, amount)

    def unpaid_on(self, day: date) -> int:
        return max(self.principal - sum(amount for value_date, amount in self.payments if value_date <= day), 0)


@dataclass(frozen=True)
class Segment:
    """Interest charged under one rule: its first and last charged day, and the amount."""

    rule_id: str
    from_day: date
    to_day: date
    amount: int


def interest(law: Law, debt: Debt, through: date, after: date | None = None) -> dict[str, Segment]:
    """Interest of ``debt`` for the days after ``after`` (default: from the first day late) up to ``through``
    inclusive, per rule. A charged day is a late day, past the rule's threshold, with something unpaid."""
    day = debt.due_date + ONE_DAY
    if after is not None and after >= day:
        day = after + ONE_DAY
    found: dict[str, Segment] = {}
    while day <= through:
        rule = law.rule_on(day)
        unpaid = debt.unpaid_on(day)
        if rule is not None and unpaid > 0 and (day - debt.due_date).days >= rule.min_days_late:
            seg = found.get(rule.id)
            amount = rule.daily(unpaid)
            found[rule.id] = Segment(rule.id, day, day, amount) if seg is None else \
                Segment(rule.id, seg.from_day, day, seg.amount + amount)
        day += ONE_DAY
    return found


def total(segments: dict[str, Segment]) -> int:
    return sum(s.amount for s in segments.values())
