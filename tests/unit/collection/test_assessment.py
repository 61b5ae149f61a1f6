"""The contribution law, with worked examples computed by hand (VND, rounding half up per line)."""
from __future__ import annotations

import json
from datetime import date

import pytest

from services.collection.domain.assessment import assess, check_declaration, due_date, revise
from services.collection.domain.errors import ImplausibleDeclaration
from services.collection.domain.law import DEFAULT_LAW, NoLawInForce, load_law
from services.collection.domain.model import Declaration, Period

LAW = load_law()
ALL_FUNDS = ("sickness_maternity", "accident", "retirement", "health", "unemployment")


def declare(salary: int, period: str = "2025-03", region: int = 1, revision: int = 0,
            reduced: bool = False, funds=ALL_FUNDS) -> Declaration:
    return Declaration("DN0001", region, reduced, Period.parse(period), "0123456789", "Trần Thị Bình",
                       "001090012345", salary, tuple(funds), revision)


def amounts(assessment) -> dict[tuple[str, str], int]:
    return {(fund, party): amount for fund, party, amount in assessment.lines}


def test_a_salary_below_the_regional_minimum_is_assessed_on_the_floor_and_flagged():
    a = assess(LAW, declare(3_000_000, "2025-03", region=2))  # region II floor from 2024-07: 4,410,000
    assert (a.social_base, a.unemployment_base, a.floor_applied) == (4_410_000, 4_410_000, True)
    assert amounts(a) == {
        ("sickness_maternity", "employer"): 132_300,  # 3%
        ("accident", "employer"): 22_050,             # 0.5%
        ("retirement", "employer"): 617_400,          # 14%
        ("retirement", "employee"): 352_800,          # 8%
        ("health", "employer"): 132_300,              # 3%
        ("health", "employee"): 66_150,               # 1.5%
        ("unemployment", "employer"): 44_100,         # 1%
        ("unemployment", "employee"): 44_100,         # 1%
    }
    assert a.total == 1_411_200  # 32% of 4,410,000


def test_a_salary_above_the_social_cap_is_capped_for_social_and_health_but_not_for_unemployment():
    # 2025-03: base salary 2,340,000 -> social cap 46,800,000; region I 4,960,000 -> UI cap 99,200,000.
    a = assess(LAW, declare(60_000_000, "2025-03", region=1))
    assert (a.social_base, a.unemployment_base, a.cap_applied) == (46_800_000, 60_000_000, True)
    got = amounts(a)
    assert got[("retirement", "employer")] == 6_552_000
    assert got[("retirement", "employee")] == 3_744_000
    assert got[("health", "employee")] == 702_000
    assert got[("unemployment", "employer")] == got[("unemployment", "employee")] == 600_000


def test_a_salary_above_both_caps_uses_each_cap_for_its_funds():
    # Region IV, 2025-03: UI cap 20 x 3,450,000 = 69,000,000; social cap 46,800,000.
    a = assess(LAW, declare(100_000_000, "2025-03", region=4))
    assert (a.social_base, a.unemployment_base) == (46_800_000, 69_000_000)
    assert amounts(a)[("unemployment", "employee")] == 690_000


def test_the_unemployment_cap_applies_alone_when_the_law_tables_make_it_the_lower_one(tmp_path):
    # Under today's tables the UI cap is always the higher one; a hypothetical future table where the
    # base salary rises to 5,000,000 (social cap 100,000,000) shows the caps are independent data.
    raw = json.loads(DEFAULT_LAW.read_text())
    raw["base_salary"].append({"effective_from": "2030-01-01", "amount": 5_000_000})
    path = tmp_path / "law.json"
    path.write_text(json.dumps(raw))
    a = assess(load_law(path), declare(80_000_000, "2030-01", region=4))  # UI cap 20 x 3,700,000
    assert (a.social_base, a.unemployment_base, a.cap_applied) == (80_000_000, 74_000_000, True)
    assert amounts(a)[("retirement", "employer")] == 11_200_000
    assert amounts(a)[("unemployment", "employer")] == 740_000


@pytest.mark.parametrize("region,floor,retirement_employer", [
    (1, 5_310_000, 743_400), (2, 4_730_000, 662_200), (3, 4_140_000, 579_600), (4, 3_700_000, 518_000)])
def test_each_region_has_its_own_floor_from_2026(region, floor, retirement_employer):
    a = assess(LAW, declare(1_000_000, "2026-01", region=region))
    assert a.floor == floor and a.social_base == floor
    assert amounts(a)[("retirement", "employer")] == retirement_employer


def test_an_employer_approved_for_the_reduced_accident_rate_pays_0_3_percent():
    assert amounts(assess(LAW, declare(10_000_000, reduced=True)))[("accident", "employer")] == 30_000
    assert amounts(assess(LAW, declare(10_000_000, reduced=False)))[("accident", "employer")] == 50_000


def test_the_base_salary_and_minimum_wage_change_on_1_july_2024():
    june, july = assess(LAW, declare(50_000_000, "2024-06")), assess(LAW, declare(50_000_000, "2024-07"))
    assert (june.social_base, july.social_base) == (36_000_000, 46_800_000)  # 20 x 1,800,000 / 2,340,000
    assert amounts(june)[("retirement", "employer")] == 5_040_000
    assert amounts(july)[("retirement", "employer")] == 6_552_000
    assert (assess(LAW, declare(1, "2024-06")).floor, assess(LAW, declare(1, "2024-07")).floor) == (4_680_000, 4_960_000)


@pytest.mark.parametrize("period,due", [("2025-05", date(2025, 5, 31)), ("2025-06", date(2025, 6, 30)),
                                        ("2025-07", date(2025, 8, 31)), ("2025-12", date(2026, 1, 31)),
                                        ("2024-02", date(2024, 2, 29))])
def test_the_due_date_follows_the_rule_in_force_for_the_period(period, due):
    assert due_date(LAW, Period.parse(period)) == due


def test_each_line_is_rounded_half_up_to_the_dong_and_the_total_is_the_sum_of_rounded_lines():
    a = assess(LAW, declare(5_310_100, "2026-01", region=1))
    got = amounts(a)
    assert got[("health", "employee")] == 79_652   # 79,651.5 -> 79,652
    assert got[("accident", "employer")] == 26_551  # 26,550.5 -> 26,551
    assert got[("retirement", "employee")] == 424_808  # 424,808.0
    assert a.total == sum(got.values()) == 1_699_233  # not round(32% x 5,310,100) = 1,699,232


def test_only_the_funds_the_worker_is_in_are_assessed():
    a = assess(LAW, declare(10_000_000, funds=("health",)))
    assert amounts(a) == {("health", "employer"): 300_000, ("health", "employee"): 150_000}


def test_a_higher_revision_is_assessed_as_the_difference_up_or_down():
    first = assess(LAW, declare(10_000_000))
    up = revise(first, assess(LAW, declare(12_000_000, revision=1)))
    assert up.kind == "adjustment" and up.delta_total == 640_000  # 32% of 2,000,000
    assert dict(((f, p), a) for f, p, a in up.delta)[("retirement", "employer")] == 280_000
    down = revise(up.assessment, assess(LAW, declare(9_000_000, revision=2)))
    assert down.kind == "adjustment" and down.delta_total == -960_000


def test_an_older_or_equal_revision_arriving_late_changes_nothing():
    current = assess(LAW, declare(12_000_000, revision=2))
    assert revise(current, assess(LAW, declare(10_000_000, revision=1))).kind == "stale"
    assert revise(current, assess(LAW, declare(99_000_000, revision=2))).kind == "stale"
    assert revise(None, current).kind == "initial"


def test_a_period_more_than_one_month_ahead_is_refused():
    today = date(2026, 11, 25)
    check_declaration(LAW, declare(10_000_000, "2026-12"), today)
    with pytest.raises(ImplausibleDeclaration, match="2027-01 is more than 1 month"):
        check_declaration(LAW, declare(10_000_000, "2027-01"), today)


def test_an_absurd_salary_is_refused_with_the_limit_named():
    with pytest.raises(ImplausibleDeclaration, match="2,000,000,000 VND"):
        check_declaration(LAW, declare(20_000_000_000), date(2025, 3, 10))


def test_a_period_the_tables_do_not_cover_is_an_error_not_a_guess():
    with pytest.raises(NoLawInForce, match="regional minimum wage"):
        assess(LAW, declare(10_000_000, "2020-01"))
