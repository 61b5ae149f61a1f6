"""Workers are told which months their employer left unpaid: once per worker and month, on a real PostgreSQL.

The workers' consumer (services.arrears.workers.DeclaredWorkers) is fed decoded events of
collection.assessments; the through-Kafka path is in test_workers_through_kafka.py.
"""
from __future__ import annotations

from datetime import date
from uuid import uuid4

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from schemas.collection import AmountLine, ContributionAdjusted, ContributionAssessed, UnderDeclarationFlagged
from schemas.envelope import encode, new_envelope
from schemas.topics import spec
from services.arrears.status import detect_status_changes
from services.arrears.workers import DeclaredWorkers, notify_unpaid_workers
from tests.integration.arrears.ops_ledger import (arrears_db, isolated_pool, last_outbox_id,  # noqa: F401
                                                  outbox_events, owe, pay, payloads)

DECODER = Decoder(spec("collection.assessments").messages)


def assessed(worker: str, period: str = "2025-07", employer: str = "DN0001", revision: int = 0) -> dict:
    return new_envelope(ContributionAssessed(
        employer_code=employer, worker_code=worker, worker_name="Lê Văn Cường", period=period, revision=revision,
        due_date=date(2025, 8, 31), declared_salary=5_000_000, social_salary_base=5_000_000,
        unemployment_salary_base=5_000_000, floor_applied=False, cap_applied=False,
        lines=[AmountLine(fund="retirement", party="employer", amount=700_000)], total=700_000), "collection")


def adjusted(worker: str, revision: int, period: str = "2025-07", employer: str = "DN0001") -> dict:
    return new_envelope(ContributionAdjusted(
        employer_code=employer, worker_code=worker, period=period, revision=revision, previous_revision=revision - 1,
        due_date=date(2025, 8, 31), declared_salary=5_000_000,
        lines=[AmountLine(fund="retirement", party="employer", amount=10)], total_delta=10), "collection")


def flagged(worker: str, revision: int, period: str = "2025-07", employer: str = "DN0001") -> dict:
    return new_envelope(UnderDeclarationFlagged(employer_code=employer, worker_code=worker, period=period,
                                                revision=revision, declared_salary=1_000_000, floor=4_960_000),
                        "collection")


def incoming(*envelopes: dict):
    return [DECODER.decode(RawMessage("collection.assessments", 0, i, None, encode(e)))
            for i, e in enumerate(envelopes)]


async def run_day(conn, day: str):
    before = await last_outbox_id(conn)
    async with conn.transaction():
        run = uuid4()
        await detect_status_changes(conn, date.fromisoformat(day), correlation_id=run)
        told = await notify_unpaid_workers(conn, date.fromisoformat(day), run)
    events = [p for p in payloads(await outbox_events(conn, before)) if p["type"] == "WorkerContributionsUnpaid"]
    assert told == len(events)
    return sorted(events, key=lambda e: (e["employer_code"], e["worker_code"]))


async def test_declared_workers_are_recorded_once_whatever_the_order_of_events(arrears_db, isolated_pool):
    handler = DeclaredWorkers(lambda: isolated_pool)
    flag = flagged("0000000001", 0)
    # The correction (revision 1) comes before the original assessment and its flag; a redelivery changes nothing.
    await handler.handle(incoming(adjusted("0000000001", 1), assessed("0000000002")))
    await handler.handle(incoming(flag, assessed("0000000001"), flagged("0000000002", 0)))
    await handler.handle(incoming(flag))

    rows = await arrears_db.fetch("SELECT worker_code, revision, flagged_revision FROM arrears.declared_workers "
                                  "ORDER BY worker_code")
    assert [tuple(r) for r in rows] == [("0000000001", 1, 0), ("0000000002", 0, 0)]
    assert await arrears_db.fetchval(
        "SELECT count(*) FROM arrears.inbox WHERE consumer = 'arrears-workers'") == 5


async def test_each_worker_is_told_once_naming_only_the_months_newly_unpaid(arrears_db, isolated_pool):
    handler = DeclaredWorkers(lambda: isolated_pool)
    await handler.handle(incoming(assessed("0000000001"), assessed("0000000002"),
                                  assessed("0000000001", period="2025-08"),
                                  assessed("0000000003", employer="DN0002")))
    await owe(arrears_db, "DN0001", "2025-07", "retirement", 1_400_000, "2025-08-31")
    await owe(arrears_db, "DN0001", "2025-08", "retirement", 700_000, "2025-09-30")
    await owe(arrears_db, "DN0002", "2025-07", "retirement", 700_000, "2025-08-31")
    await pay(arrears_db, "DN0002", "2025-07", "retirement", "2025-08-31", 700_000)  # DN0002 paid on time

    assert await run_day(arrears_db, "2025-09-01") == [
        {"type": "WorkerContributionsUnpaid", "worker_code": w, "employer_code": "DN0001", "periods": ["2025-07"],
         "as_of": "2025-09-01"} for w in ("0000000001", "0000000002")]
    assert await run_day(arrears_db, "2025-09-02") == []  # not on every run
    assert await run_day(arrears_db, "2025-10-01") == [  # August is now late too: only August is new
        {"type": "WorkerContributionsUnpaid", "worker_code": "0000000001", "employer_code": "DN0001",
         "periods": ["2025-08"], "as_of": "2025-10-01"}]


async def test_a_worker_declared_after_the_period_fell_overdue_is_told_at_the_next_run(arrears_db, isolated_pool):
    handler = DeclaredWorkers(lambda: isolated_pool)
    await owe(arrears_db, "DN0001", "2025-07", "retirement", 700_000, "2025-08-31")
    assert await run_day(arrears_db, "2025-09-01") == []  # overdue, but no worker known yet
    await handler.handle(incoming(assessed("0000000009")))

    assert [(e["worker_code"], e["periods"]) for e in await run_day(arrears_db, "2025-09-02")] == [
        ("0000000009", ["2025-07"])]


async def test_months_paid_before_the_run_are_not_named(arrears_db, isolated_pool):
    handler = DeclaredWorkers(lambda: isolated_pool)
    await handler.handle(incoming(assessed("0000000001")))
    await owe(arrears_db, "DN0001", "2025-07", "retirement", 700_000, "2025-08-31")
    await pay(arrears_db, "DN0001", "2025-07", "retirement", "2025-09-01", 700_000)  # one day late, paid

    assert await run_day(arrears_db, "2025-09-02") == []


async def test_a_batch_of_two_thousand_workers_is_recorded_in_one_go(arrears_db, isolated_pool):
    handler = DeclaredWorkers(lambda: isolated_pool)
    await handler.handle(incoming(*(assessed(f"{i:010d}") for i in range(2000))))
    assert await arrears_db.fetchval("SELECT count(*) FROM arrears.declared_workers") == 2000
