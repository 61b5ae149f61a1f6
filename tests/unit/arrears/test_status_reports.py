"""Pure parts of the operator views: days late of a debt as of a date, the public CSV, the ratio's year."""
from __future__ import annotations

from datetime import date

from services.arrears.domain.interest import Debt
from services.arrears.reports import days_late, overdue_csv, year_before

DUE = date(2025, 8, 31)


def test_a_debt_unpaid_on_the_date_is_late_since_its_due_date():
    assert days_late(Debt(DUE, 1_000), date(2025, 9, 10)) == 10


def test_nothing_is_late_on_or_before_the_due_date():
    assert days_late(Debt(DUE, 1_000), DUE) == 0
    assert days_late(Debt(DUE, 1_000), date(2025, 8, 1)) == 0


def test_a_debt_paid_up_late_stays_as_late_as_the_payment_that_paid_it_up():
    debt = Debt(DUE, 1_000, ((date(2025, 9, 3), 400), (date(2025, 9, 7), 600)))
    assert days_late(debt, date(2025, 12, 31)) == 7
    assert days_late(debt, date(2025, 9, 5)) == 5  # on 5 September 600 was still unpaid


def test_a_debt_paid_on_time_was_never_late():
    assert days_late(Debt(DUE, 1_000, ((DUE, 1_000),)), date(2025, 12, 31)) == 0


def test_the_public_list_is_csv_with_a_header_and_one_line_per_employer():
    rows = [{"employer_code": "DN0002", "overdue_principal": 5_000_000, "days_late": 45, "periods": 2,
             "oldest_period": "2025-06"}]
    assert overdue_csv(rows) == ("employer_code,overdue_principal,days_late,periods,oldest_period\n"
                                 "DN0002,5000000,45,2,2025-06\n")
    assert overdue_csv([]) == "employer_code,overdue_principal,days_late,periods,oldest_period\n"


def test_the_ratios_year_ends_on_the_date_and_a_leap_day_goes_back_to_28_february():
    assert year_before(date(2025, 9, 1)) == date(2024, 9, 1)
    assert year_before(date(2024, 2, 29)) == date(2023, 2, 28)
