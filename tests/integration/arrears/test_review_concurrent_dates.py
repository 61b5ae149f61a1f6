"""Review: two accrual runs for different dates at once (the scheduler catching up today while an operator
runs yesterday) must not both charge the day they share. Each run checks the date against the last run, then
records its own run; a run for a later date recorded in between made the earlier run charge its day again."""
from __future__ import annotations

import asyncio
from datetime import date

import pytest

from services.arrears import repository as repo
from services.arrears.accrual import run_accrual
from services.arrears.domain.errors import RunDateRefused
from tests.integration.arrears.accrual_world import arrears_pool, charged, owe  # noqa: F401 (fixture)

pytestmark = pytest.mark.integration


async def test_runs_for_two_dates_at_once_charge_each_day_once(arrears_pool, monkeypatch):
    async with arrears_pool.acquire() as conn:
        await owe(conn, "DN0901", "2025-07", "retirement", 10_000_000)  # due 2025-08-31: 3,000 a day late
    await run_accrual(arrears_pool, date(2025, 9, 1), chunks=2)
    later_done = asyncio.Event()
    start_run = repo.start_run

    async def earlier_date_records_its_run_late(conn, business_date, *args):
        # The interleaving of the race, forced: the 09-02 run has passed its date check and records its run
        # only once the 09-03 run is over (or 3 s later, if the 09-03 run waits for this one).
        if business_date == date(2025, 9, 2):
            try:
                await asyncio.wait_for(later_done.wait(), 3)
            except TimeoutError:
                pass
        return await start_run(conn, business_date, *args)
    monkeypatch.setattr(repo, "start_run", earlier_date_records_its_run_late)

    async def later():
        try:
            return await run_accrual(arrears_pool, date(2025, 9, 3), chunks=2)
        finally:
            later_done.set()
    outcomes = await asyncio.gather(run_accrual(arrears_pool, date(2025, 9, 2), chunks=2), later(),
                                    return_exceptions=True)
    assert all(not isinstance(o, Exception) or isinstance(o, RunDateRefused) for o in outcomes), outcomes
    async with arrears_pool.acquire() as conn:
        # 09-01, 09-02 and 09-03, once each
        assert await charged(conn, "DN0901", "2025-07") == {"law41-art40": 3 * 3_000}
