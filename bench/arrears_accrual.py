"""Benchmark of the arrears accrual run: N open debts accrued for one day, then a 30-day catch-up.

    python -m bench.arrears_accrual [--count 1000000] [--chunks 8] [--keep]

A private database (provisioned and migrated as the arrears role, like the service) is seeded with ``count``
open debts: period 2025-07 (due 2025-08-31), five funds per employer, one in five with a partial payment.
A first, untimed run accrues 2025-09-01, so every debt is in the steady state of a nightly run. Then:

* **one day**: ``run_accrual`` for 2025-09-02 (every debt recomputed, its interest and accrued_through
  written, postings and one InterestAssessed per employer into the outbox);
* **30-day catch-up**: ``run_accrual`` for 2025-10-02 (09-03 .. 10-02 never run).

Beside each, the **baseline**: one bare SQL statement writing the same number of rows, the least any
implementation must do: ``UPDATE`` of a copy of the debts table adding principal x 3 / 10,000 to each row
(no rules, no payments, no rounding rule, no postings, no events). The ratio is system / baseline.
Targets (issue 8): one day under 10 s and the catch-up under 60 s for 1,000,000 debts on the dev machine.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import date

import asyncpg

from ansinh.ops.credentials import LocalSecrets
from ansinh.ops.provision import provision_all
from ansinh.runtime.database import create_pool, prepare_schema
from ansinh.runtime.settings import PlatformSettings, ServiceSettings
from services.arrears.accrual import run_accrual

SEED = """
INSERT INTO arrears.debts (employer_code, period, fund, due_date, principal, paid, last_value_date)
SELECT 'E' || lpad((i / 5)::text, 8, '0'), date '2025-07-01',
       (ARRAY['sickness_maternity', 'accident', 'retirement', 'health', 'unemployment'])[i % 5 + 1],
       date '2025-08-31', 1000000 + (i * 7919) % 50000000,
       CASE WHEN i % 5 = 0 THEN 300000 ELSE 0 END, CASE WHEN i % 5 = 0 THEN date '2025-08-20' END
FROM generate_series(0::bigint, $1::bigint - 1) AS i;
"""
SEED_PAYMENTS = """
INSERT INTO arrears.payment_lines (employer_code, period, fund, value_date, amount)
SELECT employer_code, period, fund, last_value_date, paid FROM arrears.debts WHERE paid > 0;
"""
BASELINE_TABLE = """
CREATE TABLE arrears.baseline_debts AS SELECT employer_code, period, fund, principal, 0::bigint AS interest,
       NULL::date AS accrued_through FROM arrears.debts;
ALTER TABLE arrears.baseline_debts ADD PRIMARY KEY (employer_code, period, fund);
"""
BASELINE = ("UPDATE arrears.baseline_debts SET interest = interest + principal * 3 / 10000, "
            "accrued_through = $1")


class Bench:
    def __init__(self, platform: PlatformSettings):
        self.platform = platform
        self.dbname = f"bench_arrears_{uuid.uuid4().hex[:8]}"
        self.password = LocalSecrets(platform.state_dir).db_password("arrears")

    async def create(self) -> asyncpg.Pool:
        admin = await asyncpg.connect(self.platform.database_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self.dbname}"')
        finally:
            await admin.close()
        await provision_all(self.platform.with_database(self.dbname), {"arrears": self.password})
        settings = ServiceSettings(service="arrears", db_password=self.password, db_name=self.dbname,
                                   db_port=self.platform.pg_port, pool_size=2)
        await prepare_schema(settings)
        return await create_pool(settings, command_timeout=1800)

    async def drop(self) -> None:
        admin = await asyncpg.connect(self.platform.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        finally:
            await admin.close()


async def seed(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(SEED, count)
        await conn.execute(SEED_PAYMENTS)
        await conn.execute(BASELINE_TABLE)
        await conn.execute("VACUUM ANALYZE arrears.debts")
        await conn.execute("VACUUM ANALYZE arrears.payment_lines")
        await conn.execute("VACUUM ANALYZE arrears.baseline_debts")


async def baseline(pool: asyncpg.Pool, day: date) -> tuple[float, int]:
    async with pool.acquire() as conn:
        started = time.perf_counter()
        status = await conn.execute(BASELINE, day)
        return time.perf_counter() - started, int(status.split()[-1])


async def system(pool: asyncpg.Pool, day: date, chunks: int):
    started = time.perf_counter()
    result = await run_accrual(pool, day, chunks=chunks)
    return time.perf_counter() - started, result


def line(label: str, seconds: float, rows: int, base_s: float, base_rows: int, target: float) -> str:
    return (f"{label:<16} system {seconds:7.2f} s ({rows:,} debts, {rows / seconds:,.0f}/s)   baseline "
            f"{base_s:6.2f} s ({base_rows:,} rows)   ratio {seconds / base_s:5.1f}x   target < {target:.0f} s: "
            f"{'met' if seconds < target else 'MISSED'}")


async def main_async(args) -> None:
    bench = Bench(PlatformSettings())
    pool = await bench.create()
    try:
        t0 = time.perf_counter()
        await seed(pool, args.count)
        print(f"seeded {args.count:,} open debts ({args.count // 5:,} employers) in {time.perf_counter() - t0:.1f} s"
              f" (load average {os.getloadavg()[0]:.1f}: other work on the machine slows both columns alike)")
        warm_s, warm = await system(pool, date(2025, 9, 1), args.chunks)
        await baseline(pool, date(2025, 9, 1))
        print(f"first run 2025-09-01 (untimed warm-up): {warm_s:.2f} s, {warm.employers:,} events")
        for label, day, target in (("one day", date(2025, 9, 2), 10.0), ("30-day catch-up", date(2025, 10, 2), 60.0)):
            base_s, base_rows = await baseline(pool, day)
            seconds, result = await system(pool, day, args.chunks)
            print(line(label, seconds, result.debts, base_s, base_rows, target)
                  + f"   interest {result.assessed:,} VND, {result.employers:,} events, load {os.getloadavg()[0]:.1f}")
    finally:
        await pool.close()
        if not args.keep:
            await bench.drop()
        else:
            print(f"kept database {bench.dbname}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="open debts (employer x period x fund)")
    parser.add_argument("--chunks", type=int, default=8, help="chunks of the run (one transaction each)")
    parser.add_argument("--keep", action="store_true", help="keep the database to inspect")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
