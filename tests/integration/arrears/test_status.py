"""Status events of the daily run, on a real PostgreSQL: overdue, cleared, suspected evasion, each once.

The ledger is written as core's handlers write it (tests/integration/arrears/ops_ledger.py); the events are
read back from the outbox with the consumers' decoder. Period 2025-07 is due 2025-08-31 (Law 41/2024: the
last day of the following month), so 2025-09-01 is its first day late and 2025-10-30 is 60 days after.
"""
from __future__ import annotations

import json
from datetime import date
from uuid import uuid4

from services.arrears.status import detect_status_changes
from tests.integration.arrears.ops_ledger import (arrears_db, last_outbox_id, outbox_events, owe, pay,  # noqa: F401
                                                  payloads)

DUE = "2025-08-31"


async def detect(conn, day: str):
    """One detection in its own transaction; returns the events it wrote, decoded."""
    before = await last_outbox_id(conn)
    async with conn.transaction():
        changes = await detect_status_changes(conn, date.fromisoformat(day), correlation_id=uuid4())
    events = await outbox_events(conn, before)
    assert changes.total == len(events)
    return payloads(events)


async def test_an_employer_unpaid_the_day_after_the_due_date_is_announced_overdue_once(arrears_db):
    await owe(arrears_db, "DN0001", "2025-07", "retirement", 700_000, DUE)
    await owe(arrears_db, "DN0001", "2025-07", "health", 300_000, DUE)
    await pay(arrears_db, "DN0001", "2025-07", "health", "2025-08-20", 100_000)

    assert await detect(arrears_db, "2025-08-31") == []  # the due date itself is not late
    assert await detect(arrears_db, "2025-09-01") == [
        {"type": "EmployerOverdue", "employer_code": "DN0001", "period": "2025-07", "due_date": "2025-08-31",
         "first_day_late": "2025-09-01", "unpaid_principal": 900_000, "as_of": "2025-09-01"}]
    assert await detect(arrears_db, "2025-09-02") == []
    assert await detect(arrears_db, "2025-09-01") == []  # the same date again: nothing twice


async def test_a_period_paid_on_its_due_date_is_never_overdue(arrears_db):
    await owe(arrears_db, "DN0002", "2025-07", "retirement", 700_000, DUE)
    await pay(arrears_db, "DN0002", "2025-07", "retirement", DUE, 700_000)

    assert await detect(arrears_db, "2025-09-01") == []
    assert await detect(arrears_db, "2025-12-31") == []


async def test_partial_payments_keep_it_overdue_and_the_last_one_clears_it(arrears_db):
    await owe(arrears_db, "DN0003", "2025-07", "retirement", 700_000, DUE)
    await detect(arrears_db, "2025-09-01")
    await pay(arrears_db, "DN0003", "2025-07", "retirement", "2025-09-05", 200_000)
    assert await detect(arrears_db, "2025-09-05") == []
    await pay(arrears_db, "DN0003", "2025-07", "retirement", "2025-09-12", 500_000)

    assert await detect(arrears_db, "2025-09-12") == [
        {"type": "ArrearsCleared", "employer_code": "DN0003", "period": "2025-07", "due_date": "2025-08-31",
         "paid_up_on": "2025-09-12", "days_late": 12, "as_of": "2025-09-12"}]
    assert await detect(arrears_db, "2025-09-13") == []


async def test_a_backdated_payment_clears_an_announced_period_with_zero_days_late(arrears_db):
    await owe(arrears_db, "DN0004", "2025-07", "retirement", 700_000, DUE)
    assert [e["type"] for e in await detect(arrears_db, "2025-09-01")] == ["EmployerOverdue"]
    # The bank's report arrives on 3 September with value date 30 August: it was never late.
    await pay(arrears_db, "DN0004", "2025-07", "retirement", "2025-08-30", 700_000)

    assert await detect(arrears_db, "2025-09-03") == [
        {"type": "ArrearsCleared", "employer_code": "DN0004", "period": "2025-07", "due_date": "2025-08-31",
         "paid_up_on": "2025-08-30", "days_late": 0, "as_of": "2025-09-03"}]


async def test_evasion_is_suspected_sixty_days_after_the_due_date_once(arrears_db):
    await owe(arrears_db, "DN0005", "2025-07", "retirement", 700_000, DUE)
    await pay(arrears_db, "DN0005", "2025-07", "retirement", "2025-09-10", 100_000)
    await detect(arrears_db, "2025-09-01")

    assert await detect(arrears_db, "2025-10-29") == []  # 59 days after 31 August
    assert await detect(arrears_db, "2025-10-30") == [
        {"type": "EvasionSuspected", "employer_code": "DN0005", "period": "2025-07", "reason": "unpaid_60_days",
         "due_date": "2025-08-31", "unpaid_principal": 600_000, "under_declared_workers": 0, "as_of": "2025-10-30"}]
    assert await detect(arrears_db, "2025-10-31") == []


async def test_missed_days_are_caught_up_in_order_overdue_then_evasion(arrears_db):
    await owe(arrears_db, "DN0006", "2025-07", "retirement", 700_000, DUE)

    events = await detect(arrears_db, "2025-11-15")  # the first run in months
    assert [(e["type"], e.get("reason")) for e in events] == [("EmployerOverdue", None),
                                                              ("EvasionSuspected", "unpaid_60_days")]
    assert {e["as_of"] for e in events} == {"2025-11-15"}


async def test_a_run_for_a_past_date_counts_only_payments_valued_by_then(arrears_db):
    await owe(arrears_db, "DN0007", "2025-07", "retirement", 700_000, DUE)
    await pay(arrears_db, "DN0007", "2025-07", "retirement", "2025-09-10", 700_000)  # paid, but 10 days late

    assert await detect(arrears_db, "2025-09-05") == [
        {"type": "EmployerOverdue", "employer_code": "DN0007", "period": "2025-07", "due_date": "2025-08-31",
         "first_day_late": "2025-09-01", "unpaid_principal": 700_000, "as_of": "2025-09-05"}]
    assert [(e["type"], e["paid_up_on"], e["days_late"]) for e in await detect(arrears_db, "2025-09-10")] == [
        ("ArrearsCleared", "2025-09-10", 10)]


async def test_unresolved_under_declaration_is_suspected_evasion_and_a_corrected_one_is_not(arrears_db):
    await owe(arrears_db, "DN0008", "2025-07", "retirement", 700_000, DUE)
    await pay(arrears_db, "DN0008", "2025-07", "retirement", DUE, 700_000)  # paid on time: not overdue
    await arrears_db.executemany(
        "INSERT INTO arrears.declared_workers (employer_code, period, worker_code, revision, flagged_revision) "
        "VALUES ('DN0008', '2025-07-01', $1, $2, $3)",
        [("0000000001", 0, 0),      # flagged, never corrected
         ("0000000002", 1, 0),      # flagged at revision 0, corrected by revision 1
         ("0000000003", 2, 2),      # still below the floor in its latest revision
         ("0000000004", 0, None)])  # never flagged

    assert await detect(arrears_db, "2025-10-29") == []
    assert await detect(arrears_db, "2025-10-30") == [
        {"type": "EvasionSuspected", "employer_code": "DN0008", "period": "2025-07", "reason": "under_declaration",
         "due_date": "2025-08-31", "unpaid_principal": 0, "under_declared_workers": 2, "as_of": "2025-10-30"}]
    assert await detect(arrears_db, "2025-11-30") == []


async def test_events_are_keyed_by_employer_and_share_the_runs_correlation_id(arrears_db):
    await owe(arrears_db, "DN0009", "2025-07", "retirement", 1, DUE)
    await owe(arrears_db, "DN0010", "2025-07", "retirement", 1, DUE)
    run = uuid4()
    async with arrears_db.transaction():
        await detect_status_changes(arrears_db, date(2025, 9, 1), correlation_id=run)
    rows = await arrears_db.fetch("SELECT key, convert_from(value, 'UTF8') AS v FROM arrears.outbox ORDER BY id")
    assert sorted(bytes(r["key"]).decode() for r in rows) == ["DN0009", "DN0010"]
    assert {json.loads(r["v"])["correlation_id"] for r in rows} == {str(run)}
