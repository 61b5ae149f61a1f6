"""Benchmark of the daily run's status half: overdue, cleared, evasion and workers' notices, set-based.

    python -m bench.arrears_status [--count 1000000] [--workers-per-employer 5] [--keep]

A private database (as bench.arrears_accrual builds it) is seeded with ``count`` open debts (five funds per
employer, period 2025-07, due 2025-08-31) and ``workers-per-employer`` declared workers per employer. Then
``detect_status_changes`` + ``notify_unpaid_workers`` in one transaction, timed, for:

* **first day late** (2025-09-01): one EmployerOverdue per employer and one WorkerContributionsUnpaid per worker;
* **a quiet day** (2025-09-02): nothing new; what a normal night costs (the scan of open debts);
* **day 60** (2025-10-30): one EvasionSuspected per employer.

Beside each, the **baseline**: one bare ``INSERT INTO outbox ... SELECT`` of the same number of rows with a
constant value (no detection, no JSON built per row, no state). The ratio is system / baseline.
"""
from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import date

from ansinh.runtime.settings import PlatformSettings
from bench.arrears_accrual import Bench, seed
from services.arrears.status import detect_status_changes
from services.arrears.workers import notify_unpaid_workers

WORKERS = """
INSERT INTO arrears.declared_workers (employer_code, period, worker_code, revision)
SELECT employer_code, period, lpad((row_number() OVER ())::text, 10, '0'), 0
FROM (SELECT DISTINCT employer_code, period FROM arrears.debts) e, generate_series(1, $1)
"""
BASELINE = """
INSERT INTO arrears.outbox (event_id, topic, key, value)
SELECT gen_random_uuid(), 'baseline', '\\x00'::bytea, '\\x7b7d'::bytea FROM generate_series(1, $1)
"""


async def system(pool, day: date) -> tuple[float, int, dict]:
    async with pool.acquire() as conn:
        started = time.perf_counter()
        async with conn.transaction():
            changes = await detect_status_changes(conn, day, correlation_id=uuid.uuid4())
            notices = await notify_unpaid_workers(conn, day, changes.correlation_id)
        return time.perf_counter() - started, changes.total + notices, {**changes.events, "workers": notices}


async def baseline(pool, rows: int) -> float:
    async with pool.acquire() as conn:
        started = time.perf_counter()
        async with conn.transaction():
            await conn.execute(BASELINE, rows)
            seconds = time.perf_counter() - started
            raise _Rollback(seconds)  # leave the outbox as the system left it


class _Rollback(Exception):
    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds


async def timed_baseline(pool, rows: int) -> float:
    try:
        await baseline(pool, max(rows, 1))
    except _Rollback as done:
        return done.seconds
    raise AssertionError("unreachable")


async def main_async(args) -> None:
    bench = Bench(PlatformSettings())
    pool = await bench.create()
    try:
        t0 = time.perf_counter()
        await seed(pool, args.count)
        async with pool.acquire() as conn:
            await conn.execute(WORKERS, args.workers_per_employer)
            await conn.execute("VACUUM ANALYZE arrears.declared_workers")
        employers = args.count // 5
        print(f"seeded {args.count:,} open debts ({employers:,} employers, "
              f"{employers * args.workers_per_employer:,} workers) in {time.perf_counter() - t0:.1f} s")
        for label, day in (("first day late", date(2025, 9, 1)), ("a quiet day", date(2025, 9, 2)),
                           ("day 60", date(2025, 10, 30))):
            seconds, rows, events = await system(pool, day)
            base_s = await timed_baseline(pool, rows)
            ratio = seconds / base_s if rows else float("nan")
            print(f"{label:<15} system {seconds:7.2f} s ({rows:,} events {events})   baseline {base_s:6.2f} s "
                  f"({max(rows, 1):,} rows)   ratio {ratio:5.1f}x")
    finally:
        await pool.close()
        if not args.keep:
            await bench.drop()
        else:
            print(f"kept database {bench.dbname}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="open debts (employer x period x fund)")
    parser.add_argument("--workers-per-employer", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database to inspect")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
