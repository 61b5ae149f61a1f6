"""The demo's month: which periods it plays, and how its cross-checks judge."""
from datetime import date

from ansinh.devplatform.month import Check, periods_before, run_prefix


def test_the_demo_plays_the_last_periods_whose_due_date_has_passed():
    # Law 41/2024: period M is due at the end of M+1, so on 25 November 2026 September (due 31 October) is the last.
    assert periods_before(date(2026, 11, 25), 3) == ["2026-07", "2026-08", "2026-09"]
    assert periods_before(date(2026, 11, 1), 1) == ["2026-09"]
    assert periods_before(date(2026, 1, 15), 2) == ["2025-10", "2025-11"]


def test_a_check_holds_only_when_the_platform_agrees_with_the_ledger_exactly():
    assert Check("collection", "x", 1_000, 1_000).holds
    assert not Check("collection", "x", 1_000, 999).holds
    assert not Check("collection", "x", (3, 10), (3, 11)).holds


def test_run_prefixes_are_short_capital_codes_that_start_with_the_seed():
    prefix = run_prefix(2026)
    assert prefix.startswith("S26") and len(prefix) == 6 and prefix.isalnum() and prefix.isupper()
