"""The scheduler inside the service runs the daily run by itself, and catches up after a restart.

Time is moved with a fixed clock (ANSINH_ARREARS_CLOCK), not by waiting a day. The ledger is written before
the service starts so the first scheduled run sees it. DN0001 owes 1,400,000 for 2025-07 (due 2025-08-31):
420 dong of interest per day late (0.03%).
"""
from __future__ import annotations

from datetime import date

import asyncpg

from ansinh.runtime.database import prepare_schema
from services.arrears.scheduler import local_midnight
from tests.integration.arrears.ops_ledger import owe, topic_envelopes, topic_events, until


async def ledger(isolated) -> None:
    settings = isolated.service("arrears")
    await prepare_schema(settings)
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        await owe(conn, "DN0001", "2025-07", "retirement", 1_400_000, "2025-08-31")
    finally:
        await conn.close()


CHARGED = "SELECT coalesce(sum(amount), 0) FROM arrears.interest_postings"


def scheduled(isolated, clock: str):
    return isolated.start_service("arrears", ANSINH_ARREARS_CLOCK=clock, ANSINH_ARREARS_POLL_S="0.3")


def metric(service, name: str) -> float:
    status, body = service.get("/metrics", token=None)
    assert status == 200
    lines = [line for line in body.decode().splitlines() if line.startswith(name + " ")]
    assert lines, f"{name} not exported"
    return float(lines[0].split()[1])


async def test_the_scheduler_runs_the_day_that_ended_and_catches_up_missed_days_after_a_restart(isolated):
    await ledger(isolated)
    # 02:00 on 2 September in Vietnam: the run time (01:00) has passed, 1 September is due.
    service = scheduled(isolated, "2025-09-02T02:00:00+07:00")
    await until(isolated, "SELECT max(business_date) FROM arrears.runs", date(2025, 9, 1))
    await until(isolated, CHARGED, 420)
    assert [e["type"] for e in await topic_events(isolated, expect=2)] == ["InterestAssessed", "EmployerOverdue"]
    assert metric(service, "arrears_last_run_business_date_seconds") == local_midnight(date(2025, 9, 1))
    assert metric(service, "arrears_overdue_principal_vnd") == 1_400_000
    service.stop()

    # Down for two days; back at 00:30 on 5 September (before the run time): 3 September is the latest due.
    service = scheduled(isolated, "2025-09-05T00:30:00+07:00")
    await until(isolated, "SELECT max(business_date) FROM arrears.runs", date(2025, 9, 3))
    await until(isolated, CHARGED, 3 * 420)  # 1, 2 and 3 September
    await until(isolated, "SELECT count(*) FROM arrears.runs", 2)  # the missed days in one catch-up run
    events = await topic_events(isolated, expect=3)
    assert [e["type"] for e in events] == ["InterestAssessed", "EmployerOverdue", "InterestAssessed"]
    assert (events[-1]["business_date"], events[-1]["amount"]) == ("2025-09-03", 2 * 420)
    assert metric(service, "arrears_last_run_business_date_seconds") == local_midnight(date(2025, 9, 3))


async def test_with_a_fixed_business_date_and_no_clock_the_scheduler_leaves_runs_to_operators(isolated):
    await ledger(isolated)
    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31", ANSINH_ARREARS_POLL_S="0.3")
    status, body = service.request("POST", "/runs", {"business_date": "2025-09-01", "reason": "operator"})
    assert status == 200, body
    # The operator's run is the only one. A scheduler would have run yesterday by the real clock at once (its
    # first look is at start-up), and the operator's older date would then have been refused (409).
    await until(isolated, "SELECT string_agg(business_date::text || ':' || trigger, ',') FROM arrears.runs",
                "2025-09-01:http")


async def crash_at(isolated, failpoint: str) -> None:
    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31", ANSINH_FAILPOINTS=failpoint)
    try:
        status, body = service.request("POST", "/runs", {"business_date": "2025-09-01", "reason": "crash test"})
    except OSError:
        pass  # the process died under the request
    else:
        raise AssertionError(f"the run answered {status} instead of crashing at {failpoint}: {body[:300]!r}")
    assert service.proc.wait(30) == 86, service.log_tail()


async def test_a_run_killed_after_the_accrual_or_before_its_detection_commits_is_completed_by_a_rerun(isolated):
    await ledger(isolated)
    for failpoint in ("arrears.run_day.after_accrual", "arrears.run_day.before_commit"):
        await crash_at(isolated, failpoint)
        await until(isolated, "SELECT count(*) FROM arrears.runs", 0)  # the detection did not commit
        await until(isolated, "SELECT count(*) FROM arrears.outbox WHERE headers->>'type' = 'EmployerOverdue'", 0)

    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31")
    status, body = service.request("POST", "/runs", {"business_date": "2025-09-01", "reason": "rerun"})
    assert status == 200, body
    await until(isolated, "SELECT count(*) FROM arrears.outbox WHERE headers->>'type' = 'EmployerOverdue'", 1)
    await until(isolated, CHARGED, 420)  # the accrual was not charged twice
    # A relay killed after publishing and before marking re-sends with the same event id (the outbox's
    # at-least-once delivery; consumers deduplicate): count events by id.
    envelopes = {e["event_id"]: e["type"] for e in await topic_envelopes(isolated, expect=2)}
    assert sorted(envelopes.values()) == ["EmployerOverdue", "InterestAssessed"]
