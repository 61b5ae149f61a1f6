"""The payment calendar: working days, the first working day of a month, the cash windows."""
from datetime import date

import pytest

from services.payments.domain.calendar import CalendarNotCovered, load_calendar, parse_calendar

CALENDAR = load_calendar()


def test_weekends_are_not_working_days():
    assert not CALENDAR.is_working_day(date(2026, 3, 7))   # Saturday
    assert not CALENDAR.is_working_day(date(2026, 3, 8))   # Sunday
    assert CALENDAR.is_working_day(date(2026, 3, 9))       # Monday


@pytest.mark.parametrize("day", [date(2025, 1, 1), date(2025, 1, 29), date(2025, 4, 7), date(2025, 4, 30),
                                 date(2025, 5, 1), date(2025, 9, 2), date(2026, 2, 17), date(2027, 2, 9)])
def test_public_holidays_are_not_working_days(day):
    assert not CALENDAR.is_working_day(day)


def test_every_covered_year_has_new_year_tet_hung_kings_april_may_and_two_national_days():
    for year, days in CALENDAR.days_off.items():
        names = len(days)
        assert names >= 11, f"{year} lists {names} days off; the Labour Code gives 11 (5 of them Tet)"
        assert date(year, 1, 1) in days or date(year, 1, 1).weekday() >= 5


def test_bank_transfers_of_february_2026_go_out_after_tet():
    # 2 Feb 2026 is a Monday and an ordinary working day
    assert CALENDAR.first_working_day("2026-02") == date(2026, 2, 2)


def test_the_first_working_day_skips_new_year_and_a_weekend():
    # 1 Jan 2027 is a Friday and a holiday; 2-3 Jan are a weekend
    assert CALENDAR.first_working_day("2027-01") == date(2027, 1, 4)


def test_the_first_working_day_skips_labour_day_taken_in_lieu():
    # 1 May 2027 is a Saturday, taken on Monday 3 May
    assert CALENDAR.first_working_day("2027-05") == date(2027, 5, 4)


def test_the_first_working_day_of_september_2025_skips_both_national_days():
    assert CALENDAR.first_working_day("2025-09") == date(2025, 9, 3)


def test_a_year_without_a_table_is_refused_not_guessed():
    with pytest.raises(CalendarNotCovered, match="2031"):
        CALENDAR.first_working_day("2031-01")


def test_every_year_of_the_table_is_marked_for_verification_until_checked():
    assert CALENDAR.unverified_years == frozenset(CALENDAR.days_off)


def test_cash_is_paid_at_payment_points_on_days_2_to_10_and_at_post_offices_on_days_11_to_25():
    point = CALENDAR.cash_window("2026-03", "payment_point")
    office = CALENDAR.cash_window("2026-03", "post_office")
    assert (point.pay_from, point.pay_until) == (date(2026, 3, 2), date(2026, 3, 10))
    assert (office.pay_from, office.pay_until) == (date(2026, 3, 11), date(2026, 3, 25))


def test_a_swapped_weekend_day_is_a_working_day():
    data = {"years": {"2030": {"holidays": [], "working_weekend_days": ["2030-01-05"]}},
            "cash_windows": [{"effective_from": "2015-01-01", "payment_point": [2, 10], "post_office": [11, 25]}]}
    calendar = parse_calendar(data)
    assert calendar.is_working_day(date(2030, 1, 5))
    assert not calendar.is_working_day(date(2030, 1, 6))


def test_a_table_listing_a_weekday_as_a_worked_weekend_day_is_refused():
    data = {"years": {"2030": {"holidays": [], "working_weekend_days": ["2030-01-07"]}}, "cash_windows": []}
    with pytest.raises(ValueError, match="Saturday or a Sunday"):
        parse_calendar(data)


def test_a_cash_window_running_past_day_28_is_refused():
    data = {"years": {}, "cash_windows": [{"effective_from": "2015-01-01", "payment_point": [2, 10],
                                           "post_office": [11, 31]}]}
    with pytest.raises(ValueError, match="1-28"):
        parse_calendar(data)
