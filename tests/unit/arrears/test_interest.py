"""Late-payment interest, worked by hand: each expected figure is computed in the test from the law's numbers.

Law 41/2024 (days from 2025-07-01): 0.03% = 3 / 10,000 of the unpaid principal per day late.
Law 58/2014 (days before): yearly rate / 365 per day, on amounts late 30 days or more; the table's rate is
12% a year (1,200 / 10,000), a placeholder marked verify. Each day is rounded half up to the dong.
"""
from __future__ import annotations

from datetime import date, timedelta

from services.arrears.domain.interest import Debt, Segment, interest, total
from services.arrears.domain.law import load_law

LAW = load_law()
NEW = "law41-art40"
D = date.fromisoformat


def days(first: str, last: str) -> int:
    return (D(last) - D(first)).days + 1


def test_paid_on_the_due_date_costs_nothing():
    debt = Debt(D("2025-08-31"), 5_000_000, ((D("2025-08-31"), 5_000_000),))
    assert interest(LAW, debt, D("2025-12-31")) == {}


def test_the_due_date_itself_is_not_late_even_when_nothing_is_paid():
    assert interest(LAW, Debt(D("2025-08-31"), 5_000_000), D("2025-08-31")) == {}


def test_paid_the_day_after_the_due_date_is_one_day_late_and_costs_nothing_that_day():
    # A payment with value date d stops interest from day d on: paid on 09-01, 09-01 is not charged.
    assert interest(LAW, Debt(D("2025-08-31"), 5_000_000, ((D("2025-09-01"), 5_000_000),)), D("2025-09-30")) == {}


def test_paid_on_the_second_day_late_costs_one_day():
    debt = Debt(D("2025-08-31"), 5_000_000, ((D("2025-09-02"), 5_000_000),))
    one_day = 5_000_000 * 3 // 10_000  # 1,500, exact
    assert interest(LAW, debt, D("2025-09-30")) == {NEW: Segment(NEW, D("2025-09-01"), D("2025-09-01"), one_day)}


def test_partial_payments_lower_the_base_from_their_value_date():
    debt = Debt(D("2025-08-31"), 10_000_000, ((D("2025-09-05"), 4_000_000), (D("2025-09-10"), 6_000_000)))
    expected = 4 * 3_000 + 5 * 1_800  # 09-01..09-04 on 10,000,000; 09-05..09-09 on 6,000,000; then nothing
    assert interest(LAW, debt, D("2025-09-30")) == {NEW: Segment(NEW, D("2025-09-01"), D("2025-09-09"), expected)}
    assert expected == 21_000


def test_a_backdated_payment_gives_back_the_interest_of_the_days_it_covers():
    before = Debt(D("2025-08-31"), 10_000_000)
    charged = total(interest(LAW, before, D("2025-09-05")))
    assert charged == 5 * 3_000  # five days accrued, 09-01..09-05, before the payment was known
    after = Debt(D("2025-08-31"), 10_000_000, ((D("2025-09-03"), 10_000_000),))  # paid on 09-03, reported 09-06
    recomputed = total(interest(LAW, after, D("2025-09-05")))
    assert recomputed == 2 * 3_000  # only 09-01 and 09-02 were late
    assert recomputed - charged == -9_000  # the correction the run publishes
    assert interest(LAW, after, D("2025-09-06"), after=D("2025-09-05")) == {}  # nothing new


def test_a_31_day_month_charges_31_days():
    # Period 2025-08 is due 2025-09-30; unpaid through October: every day of October, 31 of them.
    segs = interest(LAW, Debt(D("2025-09-30"), 2_000_000), D("2025-10-31"))
    assert segs == {NEW: Segment(NEW, D("2025-10-01"), D("2025-10-31"), 31 * 600)}


def test_february_of_a_leap_year_counts_29_days_under_the_daily_rule():
    # Period 2027-12 is due 2028-01-31; February 2028 has 29 days.
    segs = interest(LAW, Debt(D("2028-01-31"), 1_000_000), D("2028-02-29"))
    assert segs == {NEW: Segment(NEW, D("2028-02-01"), D("2028-02-29"), 29 * 300)}


def test_february_of_a_leap_year_under_the_old_rule_reaches_30_days_late_on_the_first_of_march():
    # Period 2024-01 due 2024-01-31: 02-01 is day 1 late, 02-29 day 29, 03-01 day 30 (the first charged).
    debt = Debt(D("2024-01-31"), 100_000_000)
    assert interest(LAW, debt, D("2024-02-29")) == {}
    per_day = 32_877  # 100,000,000 x 0.12 / 365 = 32,876.71 -> 32,877
    assert interest(LAW, debt, D("2024-03-01")) == {
        "law58-2024": Segment("law58-2024", D("2024-03-01"), D("2024-03-01"), per_day)}


def test_a_debt_spanning_2025_07_01_is_charged_segment_by_segment():
    # Period 2025-04 due 2025-04-30; 30 days late on 05-30. Old rule 05-30..06-30 (32 days), new from 07-01.
    segs = interest(LAW, Debt(D("2025-04-30"), 10_000_000), D("2025-07-10"))
    old_day = (2 * 10_000_000 * 1_200 + 3_650_000) // (2 * 3_650_000)  # 3,287.67 -> 3,288
    assert old_day == 3_288
    assert days("2025-05-30", "2025-06-30") == 32
    assert segs == {"law58-2025": Segment("law58-2025", D("2025-05-30"), D("2025-06-30"), 32 * 3_288),
                    NEW: Segment(NEW, D("2025-07-01"), D("2025-07-10"), 10 * 3_000)}


def test_a_debt_of_june_2025_is_due_under_the_old_rule_and_late_under_the_new_one():
    # Period 2025-06 is due 2025-06-30 (rule by period); its first day late, 07-01, is under Law 41/2024.
    segs = interest(LAW, Debt(D("2025-06-30"), 1_000_000), D("2025-07-03"))
    assert segs == {NEW: Segment(NEW, D("2025-07-01"), D("2025-07-03"), 3 * 300)}


def test_each_day_is_rounded_half_up_to_the_dong_on_its_own():
    def one_day(base: int) -> int:
        return total(interest(LAW, Debt(D("2025-08-31"), base), D("2025-09-01")))
    assert one_day(1_666) == 0   # 0.4998
    assert one_day(1_667) == 1   # 0.5001
    assert one_day(5_000) == 2   # 1.5 exactly: half up
    assert one_day(15_000) == 5  # 4.5 exactly: half up
    # Per day, not per run: ten days of 0.5001 are 10 dong (rounding the sum, 5.001, would give 5).
    assert total(interest(LAW, Debt(D("2025-08-31"), 1_667), D("2025-09-10"))) == 10


def test_interest_after_a_day_counts_only_the_later_days():
    debt = Debt(D("2025-08-31"), 10_000_000)
    first, rest = interest(LAW, debt, D("2025-09-03")), interest(LAW, debt, D("2025-09-10"), after=D("2025-09-03"))
    assert total(first) + total(rest) == total(interest(LAW, debt, D("2025-09-10"))) == 10 * 3_000
    assert rest[NEW].from_day == D("2025-09-04")


def test_an_adjustment_down_below_what_was_paid_leaves_nothing_unpaid():
    # Principal revised down to 3,000,000 after 4,000,000 was paid: the unpaid amount is 0, never negative.
    assert interest(LAW, Debt(D("2025-08-31"), 3_000_000, ((D("2025-08-20"), 4_000_000),)), D("2025-09-30")) == {}
