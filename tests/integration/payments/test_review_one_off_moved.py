"""Review: a one-off allowance is paid once, ever. The benefit decision system may send the award again with
another first_period (an amendment: check_award accepts it); the payment key (award_id, period) takes a one-off's
period from its first_period, so the moved award got a second key and a second payment in the next run."""
from __future__ import annotations

from datetime import date

from tests.integration.payments.core_helpers import CHECKER, MAKER, payments_db, seed_entitlements

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)


async def _pay(runs, period: date) -> None:
    prepared = await runs.prepare(MAKER, period)
    await runs.approve(CHECKER, period, "checked", expected=(prepared["payments"], prepared["amount"]))
    await runs.send(period)


async def test_a_one_off_award_amended_to_a_later_first_period_after_it_was_paid_is_not_paid_again(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 3)
            await conn.execute("UPDATE entitlements SET recurrence = 'one_off', benefit_type = 'funeral_allowance', "
                               "amount = 36000000 WHERE award_id = 'AW-00000001'")
        await _pay(runs, JAN)
        async with pool.acquire() as conn:
            # What the awards handler stores for the same award sent again with first_period 2026-02.
            await conn.execute("UPDATE entitlements SET first_period = $1 WHERE award_id = 'AW-00000001'", FEB)
        await _pay(runs, FEB)
        async with pool.acquire() as conn:
            paid = await conn.fetch("SELECT period, state FROM payments WHERE award_id = 'AW-00000001' ORDER BY id")
        assert [(r["period"], r["state"]) for r in paid] == [(JAN, "sent")]
