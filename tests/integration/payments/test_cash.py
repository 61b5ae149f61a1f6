"""Cash at paying offices through Kafka and PostgreSQL: paid, unclaimed, and the 6-month rule."""
from __future__ import annotations

from datetime import date

import pytest

from tests.integration.payments.status_world import status_world

pytestmark = pytest.mark.integration

MONTHS = [date(2025, m, 1) for m in range(7, 13)]  # 2025-07 .. 2025-12, before the world's own run


async def cash_history(world, award: str, code: str, office: str, states: list[str]) -> list[str]:
    """Six earlier months of cash payments for ``award``, ordered at ``office``, in the given states."""
    async with world.pool.acquire() as conn:
        await conn.executemany("INSERT INTO runs (period, state, correlation_id) VALUES ($1, 'sent', gen_random_uuid()) "
                               "ON CONFLICT DO NOTHING", [(m,) for m in MONTHS])
        rows = await conn.fetch(
            "INSERT INTO payments (award_id, period, run_period, beneficiary_code, beneficiary_name, citizen_id, "
            "benefit_type, amount, channel, paying_office, state, sent_at) "
            "SELECT $1, m, m, $2, 'Người hưởng', '000000000001', 'old_age_pension', 3000000, 'cash', $3, s, now() "
            "FROM unnest($4::date[], $5::text[]) AS u(m, s) RETURNING payment_id", award, code, office, MONTHS, states)
    return [r["payment_id"] for r in rows]


async def test_cash_unclaimed_six_months_in_a_row_suspends_the_beneficiary_once(isolated):
    async with status_world(isolated) as world:
        ids = await cash_history(world, "AW-00000004", "0000000004", "BC-4", ["sent"] * 6)
        for payment_id in ids:
            await world.cash(payment_id, "BC-4", "unclaimed")
        await world.cash(ids[-1], "BC-4", "unclaimed")  # reported twice: suspended once all the same
        await world.until_states({p: "unclaimed" for p in ids})

        events = await world.events("payments.events", expect=1)
        [suspended] = [e["payload"] for e in events if e["type"] == "PaymentsSuspendedForNonCollection"]
        assert suspended == {"beneficiary_code": "0000000004", "award_id": "AW-00000004", "from_period": "2026-01",
                             "unclaimed_periods": [f"{m:%Y-%m}" for m in MONTHS]}
        [entitlement] = await world.fetch("SELECT status, status_from FROM entitlements WHERE award_id = 'AW-00000004'")
        assert (entitlement["status"], entitlement["status_from"]) == ("suspended", date(2026, 1, 1))


async def test_a_month_collected_in_between_keeps_the_beneficiary_paid(isolated):
    async with status_world(isolated) as world:
        ids = await cash_history(world, "AW-00000008", "0000000008", "BC-8", ["sent"] * 6)
        for n, payment_id in enumerate(ids):
            await world.cash(payment_id, "BC-8", "paid" if n == 2 else "unclaimed")
        await world.until_states({ids[2]: "paid", ids[5]: "unclaimed"})
        events = await world.events("payments.events", expect=1)
        assert not [e for e in events if e["type"] == "PaymentsSuspendedForNonCollection"]
        [entitlement] = await world.fetch("SELECT status FROM entitlements WHERE award_id = 'AW-00000008'")
        assert entitlement["status"] == "active"
        collected = [e["payload"] for e in events if e["type"] == "CashPaymentCollected"]
        assert [(c["payment_id"], c["paying_office"]) for c in collected] == [(ids[2], "BC-8")]


async def test_a_report_for_a_bank_payment_is_refused_to_the_dlq(isolated):
    async with status_world(isolated) as world:
        await world.cash(world.payment_of[1], "BC-4", "paid")
        [(reason, _)] = await world.dead_letters("payments.cash-status", expect=1)
        assert reason.startswith("payment_id: a cash report for a payment made by bank transfer")
