"""Due date of a contribution month, by the rule in force for the period.

Period 2025-06 (the month before Law 41/2024 came into force) is due 2025-06-30 under Decision 595: the rule
is chosen by the period, and June 2025's deadline fell while the old law was in force; the new law does not
move a deadline that had already passed (it is not retroactive). Collection's law tables make the same choice
(new rule from period 2025-07), so both services agree on every due date.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from services.arrears.domain.law import Law


def last_day_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def due_date(law: Law, period: date) -> date:
    """Last day on which the contributions of ``period`` (its first day) can be paid without being late."""
    rule = law.due_rule_for(period)
    if rule == "end_of_period_month":
        return last_day_of_month(period.year, period.month)
    nxt = period.replace(day=28) + timedelta(days=4)
    return last_day_of_month(nxt.year, nxt.month)


def first_day_late(law: Law, period: date) -> date:
    return due_date(law, period) + timedelta(days=1)
