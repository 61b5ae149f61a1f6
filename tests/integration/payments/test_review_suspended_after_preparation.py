"""Review: an award suspended or terminated after its run was prepared, but before the run was approved, must
not be paid. The approver must not be able to approve the stale totals, and preparing the run again must drop
the payment that is no longer payable (and pay it again if the award is resumed before approval)."""
from __future__ import annotations

import json
from datetime import date

import pytest

from services.payments.domain.errors import RunChanged
from tests.integration.payments.core_helpers import CHECKER, MAKER, payments_db, seed_entitlements

JAN = date(2026, 1, 1)


async def _status(conn, award_id: str, status: str) -> None:
    """What the awards handler stores for BenefitSuspended/BenefitTerminated/BenefitResumed from January."""
    await conn.execute("UPDATE entitlements SET status = $2, status_from = $3, prior_status = 'active' "
                       "WHERE award_id = $1", award_id, status, JAN)


async def _orders_for(conn, award_ids: set[str]) -> list[str]:
    rows = await conn.fetch("SELECT value FROM outbox WHERE topic IN ('payments.orders', 'payments.cash-orders')")
    found = [json.loads(bytes(r["value"]))["payload"].get("award_id") for r in rows]
    return [a for a in found if a in award_ids]


async def test_an_award_suspended_or_terminated_after_preparation_is_never_sent(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 10)
        await runs.prepare(MAKER, JAN)
        async with pool.acquire() as conn:
            await _status(conn, "AW-00000001", "suspended")
            await _status(conn, "AW-00000002", "terminated")
        with pytest.raises(RunChanged):  # the totals shown include two payments no longer payable
            await runs.approve(CHECKER, JAN, "looks right")
        prepared = await runs.prepare(MAKER, JAN)
        assert prepared["payments"] == 8
        await runs.approve(CHECKER, JAN, "checked again", expected=(prepared["payments"], prepared["amount"]))
        await runs.send(JAN)
        async with pool.acquire() as conn:
            sent = {r["award_id"] for r in await conn.fetch("SELECT award_id FROM payments WHERE state = 'sent'")}
            orders = await _orders_for(conn, {"AW-00000001", "AW-00000002"})
        assert "AW-00000001" not in sent and "AW-00000002" not in sent and len(sent) == 8
        assert orders == []


async def test_an_award_resumed_before_approval_is_paid_once_after_preparing_again(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 4)
        await runs.prepare(MAKER, JAN)
        async with pool.acquire() as conn:
            await _status(conn, "AW-00000001", "suspended")
        assert (await runs.prepare(MAKER, JAN))["payments"] == 3
        async with pool.acquire() as conn:
            await _status(conn, "AW-00000001", "active")
        prepared = await runs.prepare(MAKER, JAN)
        await runs.approve(CHECKER, JAN, "checked", expected=(prepared["payments"], prepared["amount"]))
        await runs.send(JAN)
        async with pool.acquire() as conn:
            per_award = {r["award_id"]: r["n"] for r in await conn.fetch(
                "SELECT award_id, count(*) AS n FROM payments WHERE state = 'sent' GROUP BY award_id")}
        assert prepared["payments"] == 4 and per_award == {f"AW-{n:08d}": 1 for n in range(1, 5)}
