"""The data and the clock arithmetic behind the daily run's status events and its scheduler (pure)."""
from __future__ import annotations

import json
from datetime import date, datetime, time, timezone

import pytest

from services.arrears.scheduler import SchedulerSettings, due_business_date, local_midnight
from services.arrears.status import DEFAULT_EVASION_RULES, load_evasion_rules

ONE_AM = time(1, 0)


def test_the_shipped_evasion_rules_say_sixty_days_and_are_marked_to_verify():
    rules = load_evasion_rules()
    assert [(r.from_due_date, r.unpaid_days, r.under_declaration_days) for r in rules] == [
        (date(2016, 1, 1), 60, 60), (date(2025, 7, 1), 60, 60)]
    assert all(r.verify for r in rules)
    assert all("source" in row for row in json.loads(DEFAULT_EVASION_RULES.read_text())["evasion_rules"])


def test_evasion_rules_are_sorted_by_date_and_refuse_a_day_count_below_one(tmp_path):
    path = tmp_path / "evasion.json"
    path.write_text(json.dumps({"evasion_rules": [
        {"from_due_date": "2025-07-01", "unpaid_days": 90, "under_declaration_days": 30},
        {"from_due_date": "2016-01-01", "unpaid_days": 60, "under_declaration_days": 60}]}))
    assert [r.unpaid_days for r in load_evasion_rules(path)] == [60, 90]
    path.write_text(json.dumps({"evasion_rules": [
        {"from_due_date": "2016-01-01", "unpaid_days": 0, "under_declaration_days": 60}]}))
    with pytest.raises(ValueError):
        load_evasion_rules(path)


def hcm(text: str) -> datetime:
    return datetime.fromisoformat(text + "+07:00")


def test_after_the_run_time_the_day_that_just_ended_is_due():
    assert due_business_date(hcm("2025-09-02T01:00:00"), ONE_AM, 1) == date(2025, 9, 1)
    assert due_business_date(hcm("2025-09-02T23:59:59"), ONE_AM, 1) == date(2025, 9, 1)


def test_before_the_run_time_the_day_before_is_still_the_latest_due():
    assert due_business_date(hcm("2025-09-02T00:59:59"), ONE_AM, 1) == date(2025, 8, 31)


def test_the_business_date_is_taken_in_ho_chi_minh_city_whatever_the_clock_zone():
    # 18:30 UTC on 1 September is 01:30 on 2 September in Vietnam (UTC+7).
    assert due_business_date(datetime(2025, 9, 1, 18, 30, tzinfo=timezone.utc), ONE_AM, 1) == date(2025, 9, 1)


def test_a_lag_of_zero_runs_today_once_the_run_time_has_come():
    assert due_business_date(hcm("2025-09-02T23:00:00"), time(22, 0), 0) == date(2025, 9, 2)


def test_the_run_date_metric_is_local_midnight():
    assert local_midnight(date(2025, 9, 1)) == datetime(2025, 8, 31, 17, 0, tzinfo=timezone.utc).timestamp()


def test_scheduler_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("ANSINH_ARREARS_RUN_AT", "02:30")
    monkeypatch.setenv("ANSINH_ARREARS_CLOCK", "2025-09-05T00:30:00+07:00")
    s = SchedulerSettings()
    assert (s.run_at, s.clock, s.lag_days) == (time(2, 30), hcm("2025-09-05T00:30:00"), 1)
