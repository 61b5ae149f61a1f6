"""What a prepared run shows the approver, and when its orders are due (pure parts of a run)."""
from datetime import date

from services.payments.domain.calendar import load_calendar
from services.payments.domain.runs import Total, cash_place, cash_windows, difference, execution_date, totals
from services.payments.domain.model import next_period, parse_period, period_text, previous_period

CALENDAR = load_calendar()


def test_totals_add_up_by_channel_bank_and_benefit_type():
    summary = totals([("bank", "970436", "old_age_pension", 2, 11_000_000),
                      ("bank", "970415", "old_age_pension", 1, 5_000_000),
                      ("cash", None, "survivor_allowance", 3, 6_000_000)])
    assert summary["payments"] == 6 and summary["amount"] == 22_000_000
    assert summary["by_channel"] == {"bank": {"count": 3, "amount": 16_000_000},
                                     "cash": {"count": 3, "amount": 6_000_000}}
    assert summary["by_bank"] == {"970415": {"count": 1, "amount": 5_000_000},
                                  "970436": {"count": 2, "amount": 11_000_000}}
    assert summary["by_benefit_type"]["survivor_allowance"] == {"count": 3, "amount": 6_000_000}


def test_the_difference_from_last_month_is_explained_by_its_reasons():
    diff = difference(previous=Total(10, 100), current=Total(11, 125), new=Total(2, 30),
                      ended={"terminated": Total(1, 10)}, changed=Total(1, 15), changed_delta=5)
    assert diff["count_change"] == 1 and diff["amount_change"] == 25
    explained = diff["new_awards"]["amount"] - diff["ended_awards"]["amount"] + diff["changed_amounts"]["amount_change"]
    assert explained == diff["amount_change"]
    assert diff["ended_awards"]["by_reason"] == {"terminated": {"count": 1, "amount": 10}}


def test_bank_orders_go_out_on_the_first_working_day_of_the_month():
    # 1 January 2026 is a public holiday (a Thursday): transfers go on Friday the 2nd.
    assert execution_date(CALENDAR, date(2026, 1, 1)) == date(2026, 1, 2)
    # 1 February 2026 is a Sunday.
    assert execution_date(CALENDAR, date(2026, 2, 1)) == date(2026, 2, 2)


def test_payment_points_pay_on_days_2_to_10_and_post_offices_on_days_11_to_25():
    windows = cash_windows(CALENDAR, date(2026, 3, 1))
    assert windows["payment_point"] == (date(2026, 3, 2), date(2026, 3, 10))
    assert windows["post_office"] == (date(2026, 3, 11), date(2026, 3, 25))
    assert cash_place("DCT-HN-0001", ["DCT"]) == "payment_point"
    assert cash_place("BC-HN-001", ["DCT"]) == "post_office"


def test_periods_read_and_write_as_year_month():
    assert parse_period("2026-01") == date(2026, 1, 1) and period_text(date(2026, 1, 1)) == "2026-01"
    assert previous_period(date(2026, 1, 1)) == date(2025, 12, 1) and next_period(date(2025, 12, 1)) == date(2026, 1, 1)
