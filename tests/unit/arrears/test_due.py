"""Due dates by the rule in force for the period (Decision 595 before period 2025-07, Law 41/2024 from it)."""
from __future__ import annotations

from datetime import date

import pytest

from services.arrears.domain.due import due_date, first_day_late
from services.arrears.domain.errors import NoLawForPeriod
from services.arrears.domain.law import load_law

LAW = load_law()


@pytest.mark.parametrize("period, due", [
    ("2024-02", "2024-02-29"),   # old rule: last day of the month itself (leap February)
    ("2025-05", "2025-05-31"),
    ("2025-06", "2025-06-30"),   # straddling: its deadline fell under the old law, which still applies
    ("2025-07", "2025-08-31"),   # new rule: last day of the following month
    ("2025-12", "2026-01-31"),   # across the year
    ("2027-01", "2027-02-28"),
    ("2028-01", "2028-02-29"),   # leap February as the following month
])
def test_the_due_date_is_the_rule_in_force_for_the_period(period, due):
    assert due_date(LAW, date.fromisoformat(period + "-01")) == date.fromisoformat(due)


def test_the_first_day_late_is_the_day_after_the_due_date():
    assert first_day_late(LAW, date(2025, 7, 1)) == date(2025, 9, 1)


def test_a_period_before_the_tables_is_refused_naming_no_value():
    with pytest.raises(NoLawForPeriod) as refused:
        due_date(LAW, date(2015, 3, 1))
    assert "2015" not in str(refused.value) and refused.value.code == "no_law_for_period"


def test_arrears_and_collection_agree_on_every_due_date():
    from services.collection.domain.assessment import due_date as collection_due
    from services.collection.domain.law import load_law as collection_law
    from services.collection.domain.model import Period
    theirs = collection_law()
    for year in range(2018, 2031):
        for m in range(1, 13):
            assert due_date(LAW, date(year, m, 1)) == collection_due(theirs, Period(year, m)), f"{year}-{m:02d}"
