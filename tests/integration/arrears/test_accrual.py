"""The daily accrual run on a real PostgreSQL: figures, idempotence, catch-up, backdated payments.

Period 2025-07 is due 2025-08-31 (Law 41/2024: last day of the following month); 2025-09-01 is its first
day late; each day late costs 0.03% of the unpaid principal, rounded half up to the dong per day.
"""
from __future__ import annotations

from datetime import date

import pytest

from services.arrears.accrual import run_accrual
from services.arrears.domain.errors import RunDateRefused
from tests.integration.arrears.accrual_world import (arrears_pool, debt, events_after, last_outbox_id,  # noqa: F401
                                                     owe, pay)


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
        assert (await debt(conn, "DN0001", "2025-07", "retirement"))["interest"] == 3_000
