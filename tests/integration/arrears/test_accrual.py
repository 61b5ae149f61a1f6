"""The daily accrual run on a real PostgreSQL: figures, idempotence, catch-up, backdated payments.

Period 2025-07 is due 2025-08-31 (Law 41/2024: last day of the following month); 2025-09-01 is its first
day late; each day late costs 0.03% of the unpaid principal, rounded half up to the dong per day.
"""
from __future__ import annotations

import signal
from datetime import date

import pytest

from ansinh.runtime import failpoints
from services.arrears.accrual import FAIL_AFTER_CHUNK, FAIL_BEFORE_COMMIT, run_accrual
from services.arrears.domain.errors import RunDateRefused
from tests.integration.arrears.accrual_world import (arrears_pool, charged, chunk_of, events_after,  # noqa: F401
                                                     last_outbox_id, owe, pay, start_run_process)
from tests.waiting import eventually_async


async def run(pool, day: str):
    return await run_accrual(pool, date.fromisoformat(day), chunks=3)


async def test_one_day_late_charges_three_basis_points_and_says_so_in_an_event(arrears_pool):
    async with arrears_pool.acquire() as conn:
        await owe(conn, "DN0001", "2025-07", "retirement", 10_000_000)
        await owe(conn, "DN0001", "2025-07", "health", 1_000_001)
        before = await last_outbox_id(conn)
        result = await run(arrears_pool, "2025-09-01")
        # 10,000,000 x 0.0003 = 3,000; 1,000,001 x 0.0003 = 300.0003 -> 300
        assert (result.assessed, result.corrected, result.employers, result.debts) == (3_300, 0, 1, 2)
        assert await events_after(conn, before) == [{
            "type": "InterestAssessed", "employer_code": "DN0001", "business_date": "2025-09-01", "amount": 3_300,
            "lines": [{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-01",
                       "to_day": "2025-09-01", "amount": 3_300}]}]
        assert await charged(conn, "DN0001", "2025-07") == {"law41-art40": 3_300}


async def test_the_same_date_run_twice_changes_nothing_the_second_time(arrears_pool):
    async with arrears_pool.acquire() as conn:
        await owe(conn, "DN0002", "2025-07", "retirement", 10_000_000)
        first = await run(arrears_pool, "2025-09-03")
        before = await last_outbox_id(conn)
        second = await run(arrears_pool, "2025-09-03")
        assert second.already_done and (second.assessed, second.corrected) == (first.assessed, 0) == (9_000, 0)
        assert await events_after(conn, before) == []
        assert await charged(conn, "DN0002", "2025-07") == {"law41-art40": 9_000}


async def test_three_missed_days_are_caught_up_by_the_next_run(arrears_pool):
    async with arrears_pool.acquire() as conn:
        await owe(conn, "DN0003", "2025-07", "retirement", 10_000_000)
        await pay(conn, "DN0003", "2025-07", "retirement", "2025-09-03", 5_000_000)
        await run(arrears_pool, "2025-09-01")
        before = await last_outbox_id(conn)
        caught_up = await run(arrears_pool, "2025-09-05")  # 09-02, 09-03, 09-04 were never run
        # 09-02 on 10,000,000 (3,000); 09-03..09-05 on 5,000,000 (1,500 a day)
        assert caught_up.assessed == 3_000 + 3 * 1_500
        assert await events_after(conn, before) == [{
            "type": "InterestAssessed", "employer_code": "DN0003", "business_date": "2025-09-05", "amount": 7_500,
            "lines": [{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-02",
                       "to_day": "2025-09-05", "amount": 7_500}]}]
        assert await charged(conn, "DN0003", "2025-07") == {"law41-art40": 3_000 + 7_500}


async def test_a_date_before_the_last_run_or_in_the_future_is_refused(arrears_pool):
    async with arrears_pool.acquire() as conn:
        await owe(conn, "DN0004", "2025-07", "retirement", 1_000_000)
    await run(arrears_pool, "2025-09-05")
    with pytest.raises(RunDateRefused):
        await run(arrears_pool, "2025-09-04")
    with pytest.raises(RunDateRefused):
        await run_accrual(arrears_pool, date(2025, 9, 7), today=date(2025, 9, 6))


async def test_a_revision_after_accrual_is_corrected_with_the_old_and_new_rule_segments(arrears_pool):
    # Period 2025-05 (due 2025-05-31) accrued through 07-02; then revised up by 1,000,000 for the whole month.
    async with arrears_pool.acquire() as conn:
        await owe(conn, "DN0005", "2025-05", "health", 10_000_000)
        await run(arrears_pool, "2025-07-02")
        await owe(conn, "DN0005", "2025-05", "health", 1_000_000)
        before = await last_outbox_id(conn)
        await run(arrears_pool, "2025-07-03")
        # Old rule: 30 days late on 06-30 -> one day; 11,000,000 x 0.12 / 365 = 3,616.4 -> 3,616 (was 3,288).
        # New rule 07-01, 07-02: 3,300 instead of 3,000 a day. 07-03 is new: 3,300.
        assert await events_after(conn, before) == [
            {"type": "InterestAssessed", "employer_code": "DN0005", "business_date": "2025-07-03", "amount": 3_300,
             "lines": [{"period": "2025-05", "rule": "law41-art40", "from_day": "2025-07-03",
                        "to_day": "2025-07-03", "amount": 3_300}]},
            {"type": "InterestCorrected", "employer_code": "DN0005", "business_date": "2025-07-03",
             "amount": (3_616 - 3_288) + 2 * 300,
             "lines": [{"period": "2025-05", "rule": "law58-2025", "from_day": "2025-06-01", "to_day": "2025-06-30",
                        "amount": 3_616 - 3_288},
                       {"period": "2025-05", "rule": "law41-art40", "from_day": "2025-07-01", "to_day": "2025-07-02",
                        "amount": 600}]}]


EMPLOYERS = [f"DN{n:04d}" for n in range(10, 40)]


async def owe_everyone(conn) -> None:
    for n, employer in enumerate(EMPLOYERS):
        await owe(conn, employer, "2025-07", "retirement", 1_000_000 * (n + 1))


def expected_total(day: str) -> int:
    late = (date.fromisoformat(day) - date(2025, 8, 31)).days
    return sum(late * 300 * (n + 1) for n in range(len(EMPLOYERS)))  # 1,000,000 x 0.0003 = 300 a day


async def assessed_once_each(conn) -> dict[str, int]:
    events = await events_after(conn)
    assert sorted(e["employer_code"] for e in events) == EMPLOYERS  # one event per employer, none twice
    return {e["employer_code"]: e["amount"] for e in events}


@pytest.mark.parametrize("failpoint", [FAIL_AFTER_CHUNK, FAIL_BEFORE_COMMIT])
async def test_a_run_crashing_at_a_failpoint_and_run_again_gives_the_same_figures(isolated, arrears_pool, failpoint):
    async with arrears_pool.acquire() as conn:
        await owe_everyone(conn)
        crashed = start_run_process(isolated, "2025-09-10", 4, failpoints=failpoint)
        assert crashed.wait(60) == failpoints.EXIT_CODE, crashed.stdout.read().decode()
        done = await conn.fetchval("SELECT count(*) FROM arrears.accrual_chunks")
        assert done == (1 if failpoint == FAIL_AFTER_CHUNK else 0)
        rerun = await run(arrears_pool, "2025-09-10")
        assert (rerun.chunks_done, rerun.assessed) == (4, expected_total("2025-09-10"))
        amounts = await assessed_once_each(conn)
        assert sum(amounts.values()) == expected_total("2025-09-10") == 10 * 300 * sum(range(1, 31))


async def test_a_run_killed_with_sigkill_in_the_middle_of_a_chunk_and_run_again_gives_the_same_figures(
        isolated, arrears_pool):
    async with arrears_pool.acquire() as conn:
        await owe_everyone(conn)
        chunks = 2
        blocked = [e for e in EMPLOYERS if await chunk_of(conn, e, chunks) == 1][0]
        holder = await arrears_pool.acquire()
        tx = holder.transaction()
        await tx.start()
        # A row of chunk 1 held: chunk 0 commits, chunk 1's statement waits on it; then kill -9 the runner.
        await holder.execute("SELECT 1 FROM arrears.debts WHERE employer_code = $1 FOR UPDATE", blocked)
        runner = start_run_process(isolated, "2025-09-10", chunks)
        try:
            async def waiting_in_chunk_1():
                return (await conn.fetchval("SELECT count(*) FROM arrears.accrual_chunks"),
                        await conn.fetch("SELECT wait_event_type, state, left(query, 60) AS q FROM pg_stat_activity "
                                         "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
            await eventually_async(waiting_in_chunk_1, 30, until=lambda seen: seen[0] == 1 and any(
                r["wait_event_type"] == "Lock" and "WITH rules" in r["q"] for r in seen[1]),
                what="the run committed chunk 0 and waits in chunk 1")
            runner.send_signal(signal.SIGKILL)
            assert runner.wait(10) == -signal.SIGKILL
        finally:
            await tx.rollback()
            await arrears_pool.release(holder)
        # The killed backend finishes its statement, finds its client gone and rolls chunk 1 back.
        await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                                     "current_database() AND query LIKE '%WITH rules%' "
                                                     "AND pid <> pg_backend_pid()"),
                               30, until=lambda n: n == 0, what="the killed run's session ended")
        assert await conn.fetchval("SELECT count(*) FROM arrears.accrual_chunks") == 1
        rerun = await run_accrual(arrears_pool, date(2025, 9, 10))
        assert (rerun.chunks_done, rerun.assessed) == (chunks, expected_total("2025-09-10"))
        assert sum((await assessed_once_each(conn)).values()) == expected_total("2025-09-10")


async def test_a_later_date_first_finishes_a_run_left_half_done_so_no_day_is_charged_twice(isolated, arrears_pool):
    async with arrears_pool.acquire() as conn:
        await owe_everyone(conn)
        crashed = start_run_process(isolated, "2025-09-10", 4, failpoints=FAIL_AFTER_CHUNK)
        assert crashed.wait(60) == failpoints.EXIT_CODE, crashed.stdout.read().decode()
        later = await run(arrears_pool, "2025-09-12")
        assert later.assessed == expected_total("2025-09-12") - expected_total("2025-09-10")
        finished = await conn.fetch("SELECT business_date FROM arrears.accrual_runs WHERE finished_at IS NOT NULL "
                                    "ORDER BY 1")
        assert [r[0] for r in finished] == [date(2025, 9, 10), date(2025, 9, 12)]
        total = await conn.fetchval("SELECT sum(amount) FROM arrears.interest_postings")
        assert total == expected_total("2025-09-12")
