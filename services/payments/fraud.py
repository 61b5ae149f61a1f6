"""Fraud signals, set-based: each new signal is a row in ``flags`` (once per signal and subject) and a
``PaymentFlagged`` event, for an operator to review (``GET /flags``). A flag accuses no one: it asks a person
to look.

* ``shared_account``: one bank account receives a run's payments for ``shared_account_min`` or more different
  beneficiaries (the data holds no family links, so a couple sharing an account stays under the default 3).
* ``deceased_beneficiary``: a payment for a month from the beneficiary's reported death on. Not sent yet: it
  is stopped (state ``stopped``) and flagged; already sent: flagged, for recovery.
* ``dormant_cash_collected``: cash collected after ``dormant_months`` or more months of the same award left
  unclaimed just before (someone else may have taken up a forgotten entitlement).
* ``account_changed_before_large``: a one-off payment of ``large_one_off_vnd`` or more to an account that was
  changed (on any of the beneficiary's awards) within ``account_change_days`` before the payment was prepared.

Details name counts, banks and periods, never an account number or a name.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

import asyncpg
from pydantic_settings import BaseSettings, SettingsConfigDict

from ansinh.runtime import outbox
from schemas import payments as wire
from services.payments import metrics

SCHEMA, PRODUCER, EVENTS = "payments", "payments", "payments.events"
SignalName = Literal["shared_account", "deceased_beneficiary", "dormant_cash_collected", "account_changed_before_large"]


class FraudSettings(BaseSettings):
    """Thresholds of the signals (environment variables ANSINH_PAYMENTS_FRAUD_...)."""

    model_config = SettingsConfigDict(env_prefix="ANSINH_PAYMENTS_FRAUD_", extra="ignore")

    shared_account_min: int = 3
    dormant_months: int = 3
    large_one_off_vnd: int = 20_000_000
    account_change_days: int = 30
    scan_interval_s: float = 3600.0  # each sweep reads the last three runs whole


_FLAG_COLUMNS = "signal, subject, beneficiary_code, payment_id, award_id, period, amount, detail"
_INSERT = (f"INSERT INTO flags ({_FLAG_COLUMNS}) {{select}} "
           "ON CONFLICT ON CONSTRAINT flags_once DO NOTHING RETURNING *")

# One pass over the run's bank payments: the accounts shared, each with its payments' ids; then only those
# payments are read again (by their unique payment_id). Joining the run back to its own aggregate instead let
# the planner, with statistics a few updates old, pick a nested loop over the run for each payment (208 s for
# 20,000 payments in bench/payments_status.py).
SHARED_ACCOUNT = _INSERT.format(select="""
    SELECT 'shared_account', 'account:' || md5(p.bank_bin || ':' || p.account_number), p.beneficiary_code,
           p.payment_id, p.award_id, p.period, p.amount,
           format('one account at bank %s receives this run''s payments for %s beneficiaries', p.bank_bin, s.n)
    FROM (SELECT count(DISTINCT beneficiary_code) AS n, array_agg(payment_id) AS ids FROM payments
          WHERE run_period = $1 AND channel = 'bank' AND account_number IS NOT NULL
          GROUP BY bank_bin, account_number HAVING count(DISTINCT beneficiary_code) >= $2) s
    CROSS JOIN LATERAL unnest(s.ids) AS shared(payment_id)
    JOIN payments p ON p.payment_id = shared.payment_id""")

STOP_FOR_DEATH = """
    UPDATE payments p SET state = 'stopped', updated_at = now() FROM beneficiaries b
    WHERE b.beneficiary_code = p.beneficiary_code AND p.run_period = $1 AND b.deceased_on IS NOT NULL
      AND p.period >= date_trunc('month', b.deceased_on)::date AND p.state IN ('created', 'approved')"""

DECEASED = _INSERT.format(select="""
    SELECT 'deceased_beneficiary', p.payment_id, p.beneficiary_code, p.payment_id, p.award_id, p.period, p.amount,
           CASE WHEN p.state = 'stopped' THEN 'payment for a month from the reported death on: stopped before it left'
                ELSE format('payment for a month from the reported death on was already %s: recover it', p.state) END
    FROM payments p JOIN beneficiaries b ON b.beneficiary_code = p.beneficiary_code
    WHERE p.run_period = $1 AND b.deceased_on IS NOT NULL AND p.period >= date_trunc('month', b.deceased_on)::date""")

DORMANT = _INSERT.format(select="""
    SELECT 'dormant_cash_collected', p.payment_id, p.beneficiary_code, p.payment_id, p.award_id, p.period, p.amount,
           format('cash collected after %s months unclaimed in a row', d.months)
    FROM payments p
    CROSS JOIN LATERAL (SELECT count(*) AS months FROM payments q
                        WHERE q.award_id = p.award_id AND q.state = 'unclaimed'
                          AND q.period >= (p.period - make_interval(months => $2))::date AND q.period < p.period) d
    WHERE p.run_period = $1 AND p.channel = 'cash' AND p.state = 'paid' AND d.months >= $2""")

ACCOUNT_CHANGED = _INSERT.format(select="""
    SELECT 'account_changed_before_large', p.payment_id, p.beneficiary_code, p.payment_id, p.award_id, p.period,
           p.amount, format('bank account changed %s days before a one-off payment of %s VND',
                            greatest(0, extract(day FROM p.created_at - c.changed_at)::int), p.amount)
    FROM payments p
    JOIN entitlements e ON e.award_id = p.award_id AND e.recurrence = 'one_off'
    CROSS JOIN LATERAL (
        SELECT max(c.changed_at) AS changed_at FROM channel_changes c JOIN entitlements o ON o.award_id = c.award_id
        WHERE o.beneficiary_code = p.beneficiary_code AND c.channel = 'bank'
          AND c.changed_at BETWEEN p.created_at - make_interval(days => $3) AND p.created_at
          AND EXISTS (SELECT 1 FROM channel_changes earlier WHERE earlier.award_id = c.award_id
                      AND earlier.changed_at < c.changed_at)) c
    WHERE p.run_period = $1 AND p.channel = 'bank' AND p.amount >= $2 AND c.changed_at IS NOT NULL""")


async def detect(conn: asyncpg.Connection, run_period: date, settings: FraudSettings) -> list[asyncpg.Record]:
    """Raise every signal of one run, in one transaction: flags, stops and PaymentFlagged events."""
    async with conn.transaction():
        await conn.execute(STOP_FOR_DEATH, run_period)
        new = [*await conn.fetch(SHARED_ACCOUNT, run_period, settings.shared_account_min),
               *await conn.fetch(DECEASED, run_period),
               *await conn.fetch(DORMANT, run_period, settings.dormant_months),
               *await conn.fetch(ACCOUNT_CHANGED, run_period, settings.large_one_off_vnd,
                                 settings.account_change_days)]
        # Lock the flagged payments (few), in id order as every writer of payments.events does, before appending:
        # a status handler and this sweep then never append one beneficiary's events out of commit order. Not
        # the whole run: millions of locks would hold up status reports for the length of the sweep.
        await conn.execute("SELECT 1 FROM payments WHERE payment_id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                           [f["payment_id"] for f in new if f["payment_id"]])
        await outbox.append(conn, SCHEMA, [outbox.event(EVENTS, f["beneficiary_code"], wire.PaymentFlagged(
            signal=f["signal"], beneficiary_code=f["beneficiary_code"], payment_id=f["payment_id"],
            award_id=f["award_id"], period=f"{f['period']:%Y-%m}" if f["period"] else None, amount=f["amount"],
            detail=f["detail"][:300]), PRODUCER) for f in new])
    for f in new:
        metrics.FLAGS.labels(f["signal"]).inc()
    return new


async def detect_recent(conn: asyncpg.Connection, today: date, settings: FraudSettings) -> list[asyncpg.Record]:
    """Every signal of the runs of the last three months (the periodic sweep)."""
    months = today.year * 12 + today.month - 1 - 3
    first = date(months // 12, months % 12 + 1, 1)
    periods = [r["period"] for r in await conn.fetch("SELECT period FROM runs WHERE period >= $1 ORDER BY period",
                                                     first)]
    found = []
    for period in periods:
        found += await detect(conn, period, settings)
    return found


async def open_flags(conn: asyncpg.Connection, signal: str | None, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT id, signal, beneficiary_code, payment_id, award_id, period, amount, detail, flagged_at FROM flags "
        "WHERE reviewed_at IS NULL AND ($1::text IS NULL OR signal = $1) ORDER BY id DESC LIMIT $2", signal, limit)


async def review(conn: asyncpg.Connection, flag_id: int, principal: str) -> asyncpg.Record | None:
    """Mark a flag reviewed by ``principal``; None when there is no such open flag."""
    return await conn.fetchrow("UPDATE flags SET reviewed_by = $2, reviewed_at = now() WHERE id = $1 "
                               "AND reviewed_at IS NULL RETURNING id, signal, reviewed_by, reviewed_at", flag_id, principal)
