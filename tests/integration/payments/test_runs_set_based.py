"""Payment runs against the real database: one payment per payable award and month, whatever is repeated or
run at the same time; nothing leaves before a second operator approves; what leaves is the approved run."""
from __future__ import annotations

import asyncio
import json
import re
from datetime import date

import pytest

from ansinh.runtime import auth
from schemas.envelope import Envelope
import xmlschema

from schemas.payments import (CashPaymentOrdered, PaymentBatchIssued, PaymentOrderIssued, PaymentRunApproved,
                              PaymentRunPrepared, PaymentSent)
from services.payments.domain.errors import PreparerCannotApprove, RunAlreadyApproved, RunChanged, RunNotPrepared
from tests.integration.payments.core_helpers import CHECKER, MAKER, payments_db, seed_entitlements

JAN, FEB = date(2026, 1, 1), date(2026, 2, 1)
MODELS = {m.event_type: m for m in (PaymentOrderIssued, CashPaymentOrdered, PaymentSent, PaymentRunPrepared,
                                    PaymentRunApproved, PaymentBatchIssued)}
PAIN001_XSD = "services/payments/iso/xsd/pain.001.001.09.xsd"


async def payments_per_award(conn, period: date) -> dict[str, int]:
    return {r["award_id"]: r["n"] for r in await conn.fetch(
        "SELECT award_id, count(*) AS n FROM payments WHERE run_period = $1 GROUP BY award_id", period)}


async def outbox(conn, topic: str | None = None) -> list[dict]:
    rows = await conn.fetch("SELECT topic, value FROM outbox WHERE $1::text IS NULL OR topic = $1 ORDER BY id", topic)
    return [{"topic": r["topic"], **json.loads(bytes(r["value"]))} for r in rows]


async def test_two_preparations_at_once_create_each_payment_once_and_a_rerun_creates_none(isolated):
    async with payments_db(isolated, chunk=700) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 5000)
        await asyncio.gather(runs.prepare(MAKER, JAN), runs.prepare(auth.Principal("maker2", frozenset()), JAN))
        await runs.prepare(MAKER, JAN)
        async with pool.acquire() as conn:
            per_award = await payments_per_award(conn, JAN)
            assert len(per_award) == 5000 and set(per_award.values()) == {1}
            view = await runs.view(JAN)
        assert view["state"] == "prepared" and view["payments"] == 5000
        assert sorted(view["preparers"]) == ["maker", "maker2"]


async def test_suspended_terminated_deceased_and_ended_awards_get_nothing(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 10)
            await conn.execute("UPDATE entitlements SET status = 'suspended', status_from = $1 WHERE award_id = 'AW-00000001'", JAN)
            await conn.execute("UPDATE entitlements SET status = 'terminated', status_from = $1 WHERE award_id = 'AW-00000002'", JAN)
            await conn.execute("UPDATE entitlements SET status = 'deceased', status_from = $1 WHERE award_id = 'AW-00000003'", JAN)
            await conn.execute("UPDATE entitlements SET last_period = '2025-12-01' WHERE award_id = 'AW-00000004'")
            await conn.execute("UPDATE entitlements SET first_period = $1 WHERE award_id = 'AW-00000005'", FEB)
            # suspended only from February: still paid in January
            await conn.execute("UPDATE entitlements SET status = 'suspended', status_from = $1 WHERE award_id = 'AW-00000006'", FEB)
        await runs.prepare(MAKER, JAN)
        async with pool.acquire() as conn:
            paid = set(await payments_per_award(conn, JAN))
        assert paid == {f"AW-{n:08d}" for n in (6, 7, 8, 9, 10)}


async def test_an_unapproved_run_sends_nothing(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 40)
        await runs.prepare(MAKER, JAN)
        view = await runs.send(JAN)  # asked to send before anyone approved: it must not
        async with pool.acquire() as conn:
            orders = [e for e in await outbox(conn) if e["topic"] != "payments.events"]
            states = {r["state"] for r in await conn.fetch("SELECT DISTINCT state FROM payments")}
        assert orders == [] and states == {"created"} and view["state"] == "prepared"


async def test_the_preparer_cannot_approve_and_a_run_still_preparing_cannot_be_approved(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 30)
        await runs.start_preparation(MAKER, JAN, "monthly run")
        with pytest.raises(RunNotPrepared):
            await runs.approve(CHECKER, JAN, "looks right")
        await runs.continue_preparation(MAKER, JAN)
        with pytest.raises(PreparerCannotApprove) as refused:
            await runs.approve(MAKER, JAN, "my own run")
        assert "maker-checker" in str(refused.value)
        with pytest.raises(RunChanged):  # the approver saw other totals
            await runs.approve(CHECKER, JAN, "looks right", expected=(29, 1))
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT count(*) FROM payments WHERE state <> 'created'") == 0
            audit = [(r["principal"], r["action"]) for r in await conn.fetch("SELECT * FROM audit_log ORDER BY id")]
        assert audit == [("maker", "payments.prepare")]


async def test_an_approved_run_sends_one_order_per_payment_and_each_event_reads_with_its_model(isolated):
    async with payments_db(isolated, chunk=37) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 400)
        prepared = await runs.prepare(MAKER, JAN)
        approved = await runs.approve(CHECKER, JAN, "checked against the budget",
                                      expected=(prepared["payments"], prepared["amount"]))
        assert approved["execution_date"] == "2026-01-02"  # 1 January is a public holiday
        sent = await runs.send(JAN)
        with pytest.raises(RunAlreadyApproved):
            await runs.prepare(MAKER, JAN)
        async with pool.acquire() as conn:
            events = await outbox(conn)
            audit = [(r["principal"], r["action"]) for r in await conn.fetch("SELECT * FROM audit_log ORDER BY id")]
            states = {r["state"] for r in await conn.fetch("SELECT DISTINCT state FROM payments")}
        assert sent["state"] == "sent" and sent["sent"] == 400 and states == {"sent"}
        assert audit == [("maker", "payments.prepare"), ("checker", "payments.approve")]
        by_type: dict[str, list] = {}
        for e in events:
            envelope = Envelope.model_validate_json(json.dumps({k: v for k, v in e.items() if k != "topic"}))
            by_type.setdefault(e["type"], []).append(MODELS[e["type"]].model_validate(envelope.payload))
        orders, cash_orders = by_type["PaymentOrderIssued"], by_type["CashPaymentOrdered"]
        assert len(orders) == 300 and len(cash_orders) == 100 and len(by_type["PaymentSent"]) == 400
        assert len({o.payment_id for o in orders + cash_orders}) == 400
        assert sum(o.amount for o in orders + cash_orders) == prepared["amount"]
        assert {o.requested_execution_date for o in orders} == {date(2026, 1, 2)}
        windows = {(c.paying_office.split("-")[0], c.pay_from, c.pay_until) for c in cash_orders}
        assert windows == {("DCT", date(2026, 1, 2), date(2026, 1, 10)), ("BC", date(2026, 1, 11), date(2026, 1, 25))}
        for e in events:
            if e["type"] == "PaymentSent":
                assert "account_number" not in e["payload"]
        # and pain.001 batches (one per bank and chunk sent) adding up to each bank's orders, valid against the
        # official XSD, every payment in exactly one of them
        batches, xsd = by_type["PaymentBatchIssued"], xmlschema.XMLSchema(PAIN001_XSD)
        assert {b.bank_bin for b in batches} == {"970415", "970418", "970436"}
        for bank in ("970415", "970418", "970436"):
            mine, theirs = [o for o in orders if o.bank_bin == bank], [b for b in batches if b.bank_bin == bank]
            assert (sum(b.number_of_transactions for b in theirs), sum(b.control_sum for b in theirs)) == \
                (len(mine), sum(o.amount for o in mine))
        for b in batches:
            xsd.validate(b.document)
        carried = [e2e for b in batches for e2e in re.findall(r"<EndToEndId>([^<]+)</EndToEndId>", b.document)]
        assert sorted(carried) == sorted(o.payment_id for o in orders)


async def test_the_summary_shows_totals_and_explains_the_difference_from_last_month(isolated):
    async with payments_db(isolated) as (pool, runs):
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 20)
        await runs.prepare(MAKER, JAN)
        async with pool.acquire() as conn:
            await seed_entitlements(conn, 3, first=FEB, start=20)        # 3 new awards
            await conn.execute("UPDATE entitlements SET status = 'terminated', status_from = $1 "
                               "WHERE award_id IN ('AW-00000001', 'AW-00000002')", FEB)  # 2 ended
            await conn.execute("UPDATE entitlements SET amount = amount + 100000 WHERE award_id = 'AW-00000003'")
        feb = await runs.prepare(MAKER, FEB)
        diff = feb["summary"]["difference"]
        assert diff["new_awards"]["count"] == 3
        assert diff["ended_awards"]["by_reason"] == {"terminated": {"count": 2, "amount": diff["ended_awards"]["amount"]}}
        assert diff["changed_amounts"] == {"count": 1, "amount": diff["changed_amounts"]["amount"], "amount_change": 100000}
        assert diff["current"]["count"] == feb["payments"] == 21
        assert (diff["previous"]["amount"] + diff["new_awards"]["amount"] - diff["ended_awards"]["amount"]
                + diff["changed_amounts"]["amount_change"]) == feb["amount"]
        assert sum(v["count"] for v in feb["summary"]["by_channel"].values()) == 21
