"""Fraud signals on PostgreSQL: set-based detection, each signal once, events through the outbox, the operator list."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from schemas.payments import PaymentFlagged
from services.payments import fraud
from services.payments.domain.errors import RunChanged
from tests.integration.payments.core_helpers import CHECKER, MAKER, payments_db, seed_entitlements
from tests.integration.payments.status_world import PERIOD, status_world

pytestmark = pytest.mark.integration
SETTINGS = fraud.FraudSettings(shared_account_min=3, dormant_months=3, large_one_off_vnd=20_000_000,
                               account_change_days=30)


async def flags_of(conn) -> dict[str, set[str]]:
    rows = await conn.fetch("SELECT signal, award_id FROM flags")
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(r["signal"], set()).add(r["award_id"])
    return out


async def test_one_account_paid_for_three_beneficiaries_is_flagged_and_two_sharing_one_is_not(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 12, first=PERIOD, cash_every=100)
            # Awards 1, 2, 3 (three beneficiaries) at one account of 970415; awards 4, 5 (a couple) at another.
            await conn.execute("UPDATE entitlements SET bank_bin = '970415', account_number = '555' "
                               "WHERE award_id IN ('AW-00000001', 'AW-00000002', 'AW-00000003')")
            await conn.execute("UPDATE entitlements SET bank_bin = '970415', account_number = '666' "
                               "WHERE award_id IN ('AW-00000004', 'AW-00000005')")
        await runs.prepare(MAKER, PERIOD)
        async with pool.acquire() as conn:
            new = await fraud.detect(conn, PERIOD, SETTINGS)
            again = await fraud.detect(conn, PERIOD, SETTINGS)
            assert await flags_of(conn) == {"shared_account": {"AW-00000001", "AW-00000002", "AW-00000003"}}
            events = await conn.fetch("SELECT value FROM outbox WHERE headers->>'type' = 'PaymentFlagged'")
        assert len(new) == 3 and again == []
        flagged = [PaymentFlagged.model_validate_json(json.dumps(json.loads(e["value"])["payload"])) for e in events]
        assert sorted(f.award_id for f in flagged) == ["AW-00000001", "AW-00000002", "AW-00000003"]
        assert all("555" not in r["detail"] for r in new)
        assert {r["detail"] for r in new} == {"one account at bank 970415 receives this run's payments for 3 beneficiaries"}


async def test_a_payment_prepared_for_someone_reported_deceased_is_stopped_and_flagged(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 4, first=PERIOD, cash_every=100)
        await runs.prepare(MAKER, PERIOD)
        async with pool.acquire() as conn:
            # Reported after the run was prepared (the award event path stops it too; the sweep catches any left).
            await conn.execute("INSERT INTO beneficiaries (beneficiary_code, deceased_on, reported_at) "
                               "VALUES ('0000000002', '2025-12-20', now())")
            new = await fraud.detect(conn, PERIOD, SETTINGS)
            states = dict(await conn.fetch("SELECT award_id, state FROM payments ORDER BY award_id"))
        assert [(r["signal"], r["award_id"]) for r in new] == [("deceased_beneficiary", "AW-00000002")]
        assert "stopped before it left" in new[0]["detail"]
        assert states["AW-00000002"] == "stopped"
        assert {a: s for a, s in states.items() if a != "AW-00000002"} == {
            "AW-00000001": "created", "AW-00000003": "created", "AW-00000004": "created"}
        # The approver sees the change (maker-checker); prepared again, the run holds the three others only.
        with pytest.raises(RunChanged):
            await runs.approve(CHECKER, PERIOD, "checked")
        await runs.prepare(MAKER, PERIOD)
        view = await runs.approve(CHECKER, PERIOD, "checked")
        assert view["payments"] == 3


async def test_cash_collected_after_months_unclaimed_is_flagged(isolated):
    async with status_world(isolated) as world:
        months = [date(2025, m, 1) for m in (10, 11, 12)]
        async with world.pool.acquire() as conn:
            await conn.executemany("INSERT INTO runs (period, state, correlation_id) VALUES ($1, 'sent', "
                                   "gen_random_uuid())", [(m,) for m in months])
            await conn.execute(
                "INSERT INTO payments (award_id, period, run_period, beneficiary_code, beneficiary_name, citizen_id, "
                "benefit_type, amount, channel, paying_office, state) SELECT 'AW-00000004', m, m, '0000000004', 'x', "
                "'000000000004', 'old_age_pension', 3040000, 'cash', 'BC-4', 'unclaimed' FROM unnest($1::date[]) m",
                months)
        await world.cash(world.payment_of[4], "BC-4", "paid")
        await world.cash(world.payment_of[8], "BC-8", "paid")  # collected every month: no signal
        await world.until_states({world.payment_of[4]: "paid", world.payment_of[8]: "paid"})
        async with world.pool.acquire() as conn:
            await fraud.detect(conn, PERIOD, SETTINGS)  # the service's own sweep may have raised it first
            flags = await conn.fetch("SELECT signal, payment_id, detail FROM flags")
        assert [tuple(r) for r in flags] == [
            ("dormant_cash_collected", world.payment_of[4], "cash collected after 3 months unclaimed in a row")]
        status, body = world.get("/flags")
        assert status == 200 and [f["signal"] for f in body["flags"]] == ["dormant_cash_collected"]
        assert world.get("/flags", reader="reader")[0] == 403  # beneficiary codes need personal_data:read

        # A second operator reviews it (audited); it leaves the list; a second review is refused.
        flag_id = body["flags"][0]["id"]
        status, reviewed = world.post(f"/flags/{flag_id}/review", {"reason": "the daughter collected it, with proxy"})
        assert status == 200 and reviewed["reviewed_by"] == "checker"
        assert world.get("/flags")[1]["flags"] == []
        assert world.post(f"/flags/{flag_id}/review", {"reason": "again"})[0] == 409
        assert world.post(f"/flags/{flag_id}/review", {"reason": "x"}, operator="reader")[0] == 403
        [audit] = await world.fetch("SELECT principal, action, subject FROM audit_log WHERE action = 'payments.flag_review'")
        assert tuple(audit) == ("checker", "payments.flag_review", str(flag_id))


async def test_an_account_changed_days_before_a_large_one_off_payment_is_flagged(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 3, first=PERIOD, cash_every=100)
            # Beneficiary 1 gets a one-off funeral allowance of 25 million; their pension account changed 5 days
            # ago. Beneficiary 2 gets the same, with an account unchanged for a year.
            await conn.execute(
                "INSERT INTO entitlements (award_id, beneficiary_code, beneficiary_name, citizen_id, benefit_type, "
                "amount, recurrence, first_period, status_from, channel, bank_bin, account_number, account_name, "
                "channel_from) SELECT 'ONE-' || n, lpad(n::text, 10, '0'), 'x', lpad(n::text, 12, '0'), "
                "'funeral_allowance', 25000000, 'one_off', $1, $1, 'bank', '970436', '999' || n, 'X', $1 "
                "FROM generate_series(1, 2) n", PERIOD)
            now = datetime.now(timezone.utc)
            await conn.execute("UPDATE channel_changes SET changed_at = $1", now - timedelta(days=365))
            await conn.execute("INSERT INTO channel_changes (award_id, from_period, changed_at, channel, bank_bin, "
                               "account_number, account_name, event_id) VALUES "
                               "('AW-00000001', '2026-01-01', $1, 'bank', '970436', '42', 'X', gen_random_uuid())",
                               now - timedelta(days=5))
        await runs.prepare(MAKER, PERIOD)
        async with pool.acquire() as conn:
            new = await fraud.detect(conn, PERIOD, SETTINGS)
        assert [(r["signal"], r["award_id"]) for r in new] == [("account_changed_before_large", "ONE-1")]
        assert new[0]["detail"].startswith("bank account changed 5 days before a one-off payment of 25000000 VND")
