"""Arrears' operator views and the daily run, through a running service, the real broker and PostgreSQL.

Collection's events go in on collection.assessments and collection.allocations; an operator runs the daily
run over HTTP and reads the statement, the overdue list and the late-payment ratio. Figures by hand:
DN0001 owes 2 x 700,000 for 2025-07 (due 2025-08-31); DN0002 owes 350,000 and paid it on 2025-08-20.
Interest under Law 41/2024 is 0.03% a day: 1,400,000 x 0.0003 = 420 dong per day late.
"""
from __future__ import annotations

import json

import asyncpg
import pytest

from tests.integration.arrears.ops_ledger import allocated, assessed, send, topic_events, until

DUE = "2025-08-31"


@pytest.fixture
async def arrears(isolated):
    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31")
    await send(isolated, "collection.assessments",
               assessed("DN0001", "2025-07", "0000000001", 700_000, DUE),
               assessed("DN0001", "2025-07", "0000000002", 700_000, DUE),
               assessed("DN0002", "2025-07", "0000000003", 350_000, DUE))
    await send(isolated, "collection.allocations",
               allocated("DN0002", "P-1", "2025-08-20", [("2025-07", "retirement", 350_000)]))
    await until(isolated, "SELECT sum(principal) - sum(paid) FROM arrears.debts", 1_400_000)
    await until(isolated, "SELECT count(*) FROM arrears.declared_workers", 3)
    yield service


def call(service, method: str, path: str, body: dict | None = None, token=...):
    kwargs = {} if token is ... else {"token": token}
    status, raw = service.request(method, path, body, **kwargs)
    return status, raw


def get_json(service, path: str):
    status, raw = call(service, "GET", path)
    assert status == 200, (status, raw[:500])
    return json.loads(raw)


def run(service, day: str):
    status, raw = call(service, "POST", "/runs", {"business_date": day, "reason": "test: end of day"})
    assert status == 200, (status, raw[:500])
    return json.loads(raw)


async def test_a_run_over_http_announces_the_overdue_employer_and_tells_its_workers_once(isolated, arrears):
    first = run(arrears, "2025-09-01")
    assert first["status_events"]["EmployerOverdue"] == 1 and first["worker_notices"] == 2

    events = await topic_events(isolated, expect=4)
    ours = sorted((e["type"], e["employer_code"], e.get("worker_code"), tuple(e.get("periods", ())))
                  for e in events if e["type"] != "InterestAssessed")
    assert ours == [("EmployerOverdue", "DN0001", None, ()),
                    ("WorkerContributionsUnpaid", "DN0001", "0000000001", ("2025-07",)),
                    ("WorkerContributionsUnpaid", "DN0001", "0000000002", ("2025-07",))]

    again = run(arrears, "2025-09-01")  # the same date twice: nothing twice
    assert again["accrual"]["already_done"] and sum(again["status_events"].values()) == 0
    assert again["worker_notices"] == 0
    assert len(await topic_events(isolated, expect=len(events))) == len(events)

    conn = await asyncpg.connect(isolated.service("arrears").service_database_url)
    try:
        audited = await conn.fetch("SELECT principal, action, subject, reason FROM arrears.audit_log ORDER BY id")
    finally:
        await conn.close()
    assert [tuple(r) for r in audited] == [("test-operator", "run_daily", "2025-09-01", "test: end of day")] * 2


async def test_the_statement_shows_principal_days_late_and_interest_by_rule_as_of_any_date(isolated, arrears):
    run(arrears, "2025-09-01")
    statement = get_json(arrears, "/employers/DN0001/arrears?as_of=2025-09-01")
    [period] = statement["periods"]
    assert (period["period"], period["principal"], period["paid"], period["unpaid"], period["days_late"],
            period["interest"]) == ("2025-07", 1_400_000, 0, 1_400_000, 1, 420)
    assert period["funds"]["retirement"]["interest_segments"] == [
        {"rule": "law41-art40", "from_day": "2025-09-01", "to_day": "2025-09-01", "amount": 420}]
    assert statement["interest_account"] == {"charged": 420, "paid": 0, "outstanding": 420}
    assert statement["total_due"] == 1_400_420

    later = get_json(arrears, "/employers/DN0001/arrears?as_of=2025-09-10")  # no run since: computed, not charged
    assert (later["totals"]["interest"], later["periods"][0]["days_late"]) == (10 * 420, 10)
    assert later["interest_account"]["charged"] == 420


async def test_paying_principal_and_interest_clears_the_period_and_settles_the_interest(isolated, arrears):
    run(arrears, "2025-09-01")
    await send(isolated, "collection.allocations",
               allocated("DN0001", "P-2", "2025-09-02", [("2025-07", "retirement", 1_400_000),
                                                          ("2025-07", "interest", 420)]))
    await until(isolated, "SELECT coalesce(sum(amount), 0) FROM arrears.interest_payments", 420)
    await until(isolated, "SELECT sum(principal) - sum(paid) FROM arrears.debts", 0)

    done = run(arrears, "2025-09-02")
    assert done["status_events"]["ArrearsCleared"] == 1
    cleared = [e for e in await topic_events(isolated, expect=5) if e["type"] == "ArrearsCleared"]
    assert cleared == [{"type": "ArrearsCleared", "employer_code": "DN0001", "period": "2025-07",
                        "due_date": "2025-08-31", "paid_up_on": "2025-09-02", "days_late": 2,
                        "as_of": "2025-09-02"}]
    statement = get_json(arrears, "/employers/DN0001/arrears?as_of=2025-09-02")
    assert (statement["totals"]["unpaid"], statement["totals"]["interest"]) == (0, 420)  # paid on day 2: 1 day
    assert statement["interest_account"] == {"charged": 420, "paid": 420, "outstanding": 0}


async def test_the_overdue_list_and_the_late_payment_ratio(isolated, arrears):
    run(arrears, "2025-09-01")
    listed = get_json(arrears, "/overdue?days=0&as_of=2025-09-01")
    assert listed["employers"] == [{"employer_code": "DN0001", "overdue_principal": 1_400_000, "days_late": 1,
                                    "periods": 1, "oldest_period": "2025-07"}]
    assert get_json(arrears, "/overdue?days=1&as_of=2025-09-01")["employers"] == []  # late 1 day, not more

    status, raw = call(arrears, "GET", "/overdue?days=0&as_of=2025-09-01&format=csv")
    assert status == 200
    assert raw.decode().splitlines() == ["employer_code,overdue_principal,days_late,periods,oldest_period",
                                         "DN0001,1400000,1,1,2025-07"]

    ratio = get_json(arrears, "/late-payment-ratio?as_of=2025-09-01")
    assert (ratio["overdue_principal"], ratio["principal_due_in_year"]) == (1_400_000, 1_750_000)
    assert ratio["ratio"] == pytest.approx(0.8) and ratio["above_target"] is True


async def test_views_need_a_token_and_refuse_bad_input_without_echoing_it(isolated, arrears):
    assert call(arrears, "GET", "/overdue", token=None)[0] == 401
    assert call(arrears, "POST", "/runs", {"business_date": "2025-09-01", "reason": "x"}, token="wrong" * 5)[0] == 401
    status, raw = call(arrears, "POST", "/runs", {"business_date": "2025-13-01", "reason": "x"})
    assert status == 400 and b"2025-13-01" not in raw
    status, raw = call(arrears, "POST", "/runs", {"business_date": "2025-09-01"})
    assert status == 400 and b"reason" in raw
    assert call(arrears, "GET", "/employers/dn-1/arrears")[0] == 400
    run(arrears, "2025-09-05")
    status, raw = call(arrears, "POST", "/runs", {"business_date": "2025-09-01", "reason": "rerun an old day"})
    assert status == 409 and json.loads(raw)["code"] == "run_date_refused"
    assert b"\narrears_run_failures_total 0.0" in arrears.get("/metrics", token=None)[1]  # refused, not failed
    document = get_json(arrears, "/openapi.json")
    assert document["paths"]["/runs"]["post"]["x-roles"] == ["arrears:run"]
