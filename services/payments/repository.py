"""The SQL of payments (schema ``payments``; search_path is the service's schema). Runs are set-based: one
statement per chunk of rows, never one round trip per payment."""
from __future__ import annotations

from datetime import date
from typing import Iterable, Sequence
from uuid import UUID

import asyncpg

from services.payments.domain.entitlements import Channel, Entitlement

SCHEMA = "payments"
_ENTITLEMENT_COLUMNS = ("award_id, beneficiary_code, beneficiary_name, citizen_id, benefit_type, amount, recurrence, "
                        "first_period, last_period, status, status_from, prior_status, channel, bank_bin, "
                        "account_number, account_name, paying_office, home_delivery, channel_from")


# ---- entitlements -----------------------------------------------------------------------------------------
def _entitlement(r: asyncpg.Record) -> Entitlement:
    channel = Channel(r["channel"], r["bank_bin"], r["account_number"], r["account_name"], r["paying_office"],
                      r["home_delivery"])
    return Entitlement(r["award_id"], r["beneficiary_code"], r["beneficiary_name"], r["citizen_id"],
                       r["benefit_type"], r["amount"], r["recurrence"], r["first_period"], r["last_period"],
                       channel, r["channel_from"], r["status"], r["status_from"], r["prior_status"])


async def lock_entitlements(conn: asyncpg.Connection, award_ids: Sequence[str],
                            beneficiary_codes: Sequence[str]) -> dict[str, Entitlement]:
    """The awards named, and every award of the beneficiaries named, locked for this transaction."""
    rows = await conn.fetch(f"SELECT {_ENTITLEMENT_COLUMNS} FROM entitlements WHERE award_id = ANY($1::text[]) "
                            "OR beneficiary_code = ANY($2::text[]) ORDER BY award_id FOR UPDATE",
                            list(award_ids), list(beneficiary_codes))
    return {r["award_id"]: _entitlement(r) for r in rows}


async def entitlement(conn: asyncpg.Connection, award_id: str) -> Entitlement | None:
    row = await conn.fetchrow(f"SELECT {_ENTITLEMENT_COLUMNS} FROM entitlements WHERE award_id = $1", award_id)
    return _entitlement(row) if row else None


async def deaths(conn: asyncpg.Connection, beneficiary_codes: Sequence[str]) -> dict[str, date]:
    rows = await conn.fetch("SELECT beneficiary_code, deceased_on FROM beneficiaries "
                            "WHERE beneficiary_code = ANY($1::text[]) AND deceased_on IS NOT NULL FOR UPDATE",
                            list(beneficiary_codes))
    return {r["beneficiary_code"]: r["deceased_on"] for r in rows}


async def save_entitlements(conn: asyncpg.Connection, entitlements: Iterable[Entitlement]) -> None:
    rows = [(e.award_id, e.beneficiary_code, e.beneficiary_name, e.citizen_id, e.benefit_type, e.amount, e.recurrence,
             e.first_period, e.last_period, e.status, e.effective_status_from, e.prior_status, e.channel.kind,
             e.channel.bank_bin, e.channel.account_number, e.channel.account_name, e.channel.paying_office,
             e.channel.home_delivery, e.channel_from) for e in entitlements]
    if not rows:
        return
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _ENTITLEMENT_COLUMNS.split(", ")[1:])
    await conn.executemany(
        f"INSERT INTO entitlements ({_ENTITLEMENT_COLUMNS}) VALUES ({', '.join(f'${i}' for i in range(1, 20))}) "
        f"ON CONFLICT (award_id) DO UPDATE SET {updates}, updated_at = now(), channel_changed_at = CASE WHEN "
        "(entitlements.channel, entitlements.bank_bin, entitlements.account_number, entitlements.paying_office) "
        "IS DISTINCT FROM (EXCLUDED.channel, EXCLUDED.bank_bin, EXCLUDED.account_number, EXCLUDED.paying_office) "
        "THEN now() ELSE entitlements.channel_changed_at END", rows)


async def save_channel_changes(conn: asyncpg.Connection, rows: Sequence[tuple[str, date, Channel, UUID]]) -> None:
    if rows:
        await conn.executemany(
            "INSERT INTO channel_changes (award_id, from_period, changed_at, channel, bank_bin, account_number, "
            "account_name, paying_office, home_delivery, event_id) "
            "VALUES ($1, $2, clock_timestamp(), $3, $4, $5, $6, $7, $8, $9)",
            [(a, f, c.kind, c.bank_bin, c.account_number, c.account_name, c.paying_office, c.home_delivery, e)
             for a, f, c, e in rows])


async def save_award_changes(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, date | None, UUID]]) -> None:
    if rows:
        await conn.executemany("INSERT INTO award_changes (award_id, kind, from_period, event_id) "
                               "VALUES ($1, $2, $3, $4)", rows)


async def record_deaths(conn: asyncpg.Connection, rows: Sequence[tuple[str, date]]) -> None:
    """The first reported date of death is kept (a repeated report is a record, not a change)."""
    if rows:
        await conn.executemany(
            "INSERT INTO beneficiaries (beneficiary_code, deceased_on, reported_at) VALUES ($1, $2, now()) "
            "ON CONFLICT (beneficiary_code) DO UPDATE SET deceased_on = coalesce(beneficiaries.deceased_on, "
            "EXCLUDED.deceased_on), reported_at = coalesce(beneficiaries.reported_at, now()), updated_at = now()",
            rows)


async def stop_payments_after_death(conn: asyncpg.Connection, rows: Sequence[tuple[str, date]]) -> int:
    """Payments not yet sent for the month of death onwards are stopped (never sent), and so are transfers the
    bank rejected that wait for their retry (a retry sends only a payment still 'rejected')."""
    stopped = 0
    for code, died in rows:
        status = await conn.execute(
            "UPDATE payments SET state = 'stopped', updated_at = now() WHERE beneficiary_code = $1 "
            "AND period >= date_trunc('month', $2::date) AND state IN ('created', 'approved', 'rejected')", code, died)
        stopped += int(status.split()[-1])
    return stopped


async def suspend_beneficiary(conn: asyncpg.Connection, beneficiary_code: str, from_period: date,
                              event_id: UUID) -> list[str]:
    """Suspend every monthly award of a beneficiary that is active, from ``from_period`` (the 6-month rule);
    returns the award ids suspended."""
    rows = await conn.fetch(
        "UPDATE entitlements SET prior_status = CASE WHEN $2 >= status_from THEN status ELSE prior_status END, "
        "status = 'suspended', status_from = $2, updated_at = now() "
        "WHERE beneficiary_code = $1 AND recurrence = 'monthly' AND status = 'active' RETURNING award_id",
        beneficiary_code, from_period)
    ids = [r["award_id"] for r in rows]
    await save_award_changes(conn, [(a, "suspended", from_period, event_id) for a in ids])
    return ids


# ---- payments (for the bank side) -------------------------------------------------------------------------
async def payment_by_payment_id(conn: asyncpg.Connection, payment_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT * FROM payments WHERE payment_id = $1", payment_id)


async def lock_payments(conn: asyncpg.Connection, payment_ids: Sequence[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch("SELECT * FROM payments WHERE payment_id = ANY($1::text[]) ORDER BY id FOR UPDATE",
                            list(payment_ids))
    return {r["payment_id"]: r for r in rows}


async def beneficiary_payments(conn: asyncpg.Connection, beneficiary_code: str) -> list[asyncpg.Record]:
    """A payment still 'created' in an approved run reads as approved (approval is recorded on the run)."""
    return await conn.fetch(
        "SELECT p.payment_id, p.award_id, p.period, p.run_period, p.benefit_type, p.amount, p.channel, p.bank_bin, "
        "p.paying_office, CASE WHEN p.state = 'created' AND r.state IN ('approved', 'sending', 'sent') "
        "THEN 'approved' ELSE p.state END AS state, p.attempt, p.reason_code, p.created_at, p.sent_at, p.updated_at "
        "FROM payments p JOIN runs r ON r.period = p.run_period WHERE p.beneficiary_code = $1 "
        "ORDER BY p.period DESC, p.id DESC", beneficiary_code)


async def beneficiary_awards(conn: asyncpg.Connection, beneficiary_code: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT award_id, benefit_type, amount, recurrence, first_period, last_period, status, status_from, "
        "prior_status, channel FROM entitlements WHERE beneficiary_code = $1 ORDER BY award_id", beneficiary_code)


# ---- runs -------------------------------------------------------------------------------------------------
async def open_run(conn: asyncpg.Connection, period: date, correlation_id: UUID) -> asyncpg.Record:
    """The run of ``period``, created when missing, locked for this transaction."""
    await conn.execute("INSERT INTO runs (period, correlation_id) VALUES ($1, $2) ON CONFLICT (period) DO NOTHING",
                       period, correlation_id)
    return await conn.fetchrow("SELECT * FROM runs WHERE period = $1 FOR UPDATE", period)


async def run(conn: asyncpg.Connection, period: date, lock: str = "") -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM runs WHERE period = $1 {lock}", period)


async def runs_to_send(conn: asyncpg.Connection) -> list[date]:
    return [r["period"] for r in await conn.fetch(
        "SELECT period FROM runs WHERE state IN ('approved', 'sending') ORDER BY period")]


async def begin_preparation(conn: asyncpg.Connection, period: date, principal: str, restart: bool) -> None:
    await conn.execute(
        "UPDATE runs SET state = 'preparing', prepared_by = $2, "
        "preparers = CASE WHEN $2 = ANY(preparers) THEN preparers ELSE array_append(preparers, $2) END, "
        "prepare_cursor = CASE WHEN $3 THEN NULL ELSE prepare_cursor END, "
        "entitlements = CASE WHEN $3 THEN 0 ELSE entitlements END, "
        "started_at = CASE WHEN $3 OR state = 'preparing' AND prepare_cursor IS NULL THEN now() ELSE started_at END "
        "WHERE period = $1", period, principal, restart)


# A payment of the run not yet approved whose award is no longer payable in the run's month (suspended,
# terminated or ended after the run was prepared): the test of PREPARE_CHUNK's WHERE, negated. A death stops
# its payments itself (state 'stopped'); a suspension or termination did not, so it would have been paid.
NOT_PAYABLE = """
FROM payments p JOIN entitlements c ON c.award_id = p.award_id
WHERE p.run_period = $1 AND p.state = 'created'
  AND NOT (c.first_period <= $1
           AND (c.recurrence = 'one_off' OR c.last_period IS NULL OR $1 <= c.last_period)
           AND (CASE WHEN $1 >= c.status_from THEN c.status ELSE c.prior_status END) = 'active')
"""


async def count_not_payable(conn: asyncpg.Connection, period: date) -> int:
    return await conn.fetchval(f"SELECT count(*) {NOT_PAYABLE}", period)


async def drop_not_payable(conn: asyncpg.Connection, period: date) -> None:
    """Before the run is prepared again (never after approval): a payment that never left is deleted, so a
    resumption before approval lets the new preparation create it again (a 'stopped' row would block it)."""
    await conn.execute(f"DELETE FROM payments WHERE id IN (SELECT p.id {NOT_PAYABLE})", period)


async def count_entitlements(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM entitlements")


# One chunk of a run's preparation: the next `limit` entitlements by award_id after `cursor`, and a payment for
# each one payable in the period. ON CONFLICT on (award_id, period) is what makes a rerun, a concurrent
# preparation or a resumed one create nothing twice. A channel changed from a later month is read from
# channel_changes (the lateral join runs only for those rows).
PREPARE_CHUNK = """
WITH chunk AS MATERIALIZED (
    SELECT * FROM entitlements WHERE award_id > $2 ORDER BY award_id LIMIT $3
), ins AS (
    INSERT INTO payments (award_id, period, run_period, beneficiary_code, beneficiary_name, citizen_id, benefit_type,
                          amount, channel, bank_bin, account_number, account_name, paying_office, home_delivery)
    SELECT c.award_id, CASE WHEN c.recurrence = 'one_off' THEN c.first_period ELSE $1 END, $1, c.beneficiary_code,
           c.beneficiary_name, c.citizen_id, c.benefit_type, c.amount,
           CASE WHEN h.award_id IS NULL THEN c.channel ELSE h.channel END,
           CASE WHEN h.award_id IS NULL THEN c.bank_bin ELSE h.bank_bin END,
           CASE WHEN h.award_id IS NULL THEN c.account_number ELSE h.account_number END,
           CASE WHEN h.award_id IS NULL THEN c.account_name ELSE h.account_name END,
           CASE WHEN h.award_id IS NULL THEN c.paying_office ELSE h.paying_office END,
           CASE WHEN h.award_id IS NULL THEN c.home_delivery ELSE h.home_delivery END
    FROM chunk c
    LEFT JOIN LATERAL (
        SELECT * FROM channel_changes h WHERE c.channel_from > $1 AND h.award_id = c.award_id AND h.from_period <= $1
        ORDER BY h.from_period DESC, h.changed_at DESC LIMIT 1) h ON true
    WHERE c.first_period <= $1
      AND (c.recurrence = 'one_off' OR c.last_period IS NULL OR $1 <= c.last_period)
      AND (CASE WHEN $1 >= c.status_from THEN c.status ELSE c.prior_status END) = 'active'
      -- A one-off is paid once, whatever its first_period became since (an amendment moving it would give it
      -- a second (award_id, period) key, so a second payment).
      AND (c.recurrence <> 'one_off' OR NOT EXISTS (SELECT 1 FROM payments x WHERE x.award_id = c.award_id
                                                                              AND x.period <> c.first_period))
    ORDER BY c.award_id
    ON CONFLICT (award_id, period) DO NOTHING
    RETURNING channel, amount
)
SELECT (SELECT max(award_id) FROM chunk) AS last, (SELECT count(*) FROM chunk) AS examined,
       (SELECT coalesce(json_agg(x), '[]') FROM (
            SELECT channel, count(*) AS n, sum(amount) AS amount FROM ins GROUP BY channel) x)::text AS created
"""


async def prepare_chunk(conn: asyncpg.Connection, period: date, cursor: str | None, limit: int) -> asyncpg.Record:
    return await conn.fetchrow(PREPARE_CHUNK, period, cursor or "", limit)


async def advance_preparation(conn: asyncpg.Connection, period: date, last: str, examined: int) -> None:
    """Progress, in its own transaction after the chunk's commit: inside it, two preparers' chunks would wait on
    each other (one on the other's rows, the other on the run row). A crash in between only makes a resumed
    preparation do that chunk again, finding every payment already there."""
    await conn.execute("UPDATE runs SET prepare_cursor = greatest(coalesce(prepare_cursor, ''), $2), "
                       "entitlements = entitlements + $3 WHERE period = $1", period, last, examined)


async def run_totals(conn: asyncpg.Connection, period: date, states: Sequence[str]) -> list[tuple]:
    rows = await conn.fetch("SELECT channel, bank_bin, benefit_type, count(*) AS n, sum(amount) AS amount "
                            "FROM payments WHERE run_period = $1 AND state = ANY($2::text[]) GROUP BY 1, 2, 3",
                            period, list(states))
    return [(r["channel"], r["bank_bin"], r["benefit_type"], r["n"], int(r["amount"])) for r in rows]


# Last month's run against this one, award by award: new, ended (with why), changed amount. A payment stopped
# (deceased) counts as not paid.
DIFFERENCE = """
WITH cur AS (SELECT award_id, amount FROM payments WHERE run_period = $1 AND state <> 'stopped'),
     prev AS (SELECT award_id, amount FROM payments WHERE run_period = $2 AND state <> 'stopped'),
     joined AS (SELECT coalesce(cur.award_id, prev.award_id) AS award_id, cur.amount AS cur, prev.amount AS prev
                FROM cur FULL JOIN prev ON prev.award_id = cur.award_id)
SELECT CASE WHEN j.prev IS NULL THEN 'new'
            WHEN j.cur IS NULL THEN 'ended:' || CASE
                WHEN e.award_id IS NULL THEN 'unknown'
                WHEN e.recurrence = 'one_off' THEN 'one_off_paid'
                WHEN e.last_period IS NOT NULL AND e.last_period < $1 THEN 'last_period_reached'
                ELSE CASE WHEN $1 >= e.status_from THEN e.status ELSE e.prior_status END END
            WHEN j.cur <> j.prev THEN 'changed' ELSE 'same' END AS kind,
       count(*) AS n, coalesce(sum(j.cur), 0) AS cur, coalesce(sum(j.prev), 0) AS prev
FROM joined j LEFT JOIN entitlements e ON e.award_id = j.award_id AND j.cur IS NULL
GROUP BY 1
"""


async def difference_rows(conn: asyncpg.Connection, period: date, previous: date) -> list[tuple[str, int, int, int]]:
    return [(r["kind"], r["n"], int(r["cur"]), int(r["prev"]))
            for r in await conn.fetch(DIFFERENCE, period, previous)]


async def finish_preparation(conn: asyncpg.Connection, period: date, summary: str, payments: int,
                             amount: int) -> bool:
    status = await conn.execute(
        "UPDATE runs SET state = 'prepared', summary = $2::jsonb, total_payments = $3, total_amount = $4, "
        "prepared_at = now() WHERE period = $1 AND state IN ('preparing', 'prepared')", period, summary, payments,
        amount)
    return status.endswith(" 1")


async def unsent_totals(conn: asyncpg.Connection, period: date) -> tuple[int, int]:
    row = await conn.fetchrow("SELECT count(*) AS n, coalesce(sum(amount), 0) AS amount FROM payments "
                              "WHERE run_period = $1 AND state = 'created'", period)
    return row["n"], int(row["amount"])


async def approve(conn: asyncpg.Connection, period: date, principal: str, execution_date: date) -> None:
    """Approval is the run's: its payments still 'created' are approved by it (views show them as approved)
    and go 'created' -> 'sent' when sent. Rewriting a million payment rows to say so would cost more than
    sending them (measured: 9 s for 200,000 rows)."""
    await conn.execute("UPDATE runs SET state = 'approved', approved_by = $2, approved_at = now(), "
                       "execution_date = $3 WHERE period = $1", period, principal, execution_date)


async def begin_sending(conn: asyncpg.Connection, period: date) -> None:
    await conn.execute("UPDATE runs SET state = 'sending', sending_started_at = coalesce(sending_started_at, now()) "
                       "WHERE period = $1 AND state = 'approved'", period)


# One chunk of sending (the run is approved): the next `limit` payments of the run by id after the cursor;
# those not stopped become sent, and their events are written to the outbox by the same statement (no Python
# loop): a bank order per bank payment (payments.orders, keyed by BIN), a cash order per cash payment (payments.cash-orders, keyed by
# paying office, with its office's cash window), and PaymentSent for each (payments.events, keyed by
# beneficiary). Event ids are derived from the payment id and attempt, so the same order can never be
# written twice (outbox.event_id is unique). No ORDER BY: nothing orders events of different payments.
SEND_CHUNK = """
WITH bounds AS MATERIALIZED (
    SELECT max(id) AS last FROM (SELECT id FROM payments WHERE run_period = $1 AND id > $2 ORDER BY id LIMIT $3) x
), sent AS (
    UPDATE payments p SET state = 'sent', sent_at = now(), updated_at = now()
    WHERE p.run_period = $1 AND p.id > $2 AND p.id <= (SELECT last FROM bounds) AND p.state IN ('created', 'approved')
    RETURNING p.id, p.payment_id, p.award_id, to_char(p.period, 'YYYY-MM') AS period, p.beneficiary_code,
              p.beneficiary_name, p.citizen_id, p.amount, p.channel, p.bank_bin, p.account_number, p.account_name,
              p.paying_office, p.home_delivery, p.attempt
), events AS (
    SELECT s.id, 0 AS n, 'PaymentOrderIssued' AS type, 'payments.orders' AS topic, s.bank_bin AS key,
           md5('PaymentOrderIssued/' || s.payment_id || '/' || s.attempt)::uuid AS event_id,
           json_build_object('payment_id', s.payment_id, 'end_to_end_id', s.payment_id, 'award_id', s.award_id,
                             'period', s.period, 'attempt', s.attempt, 'amount', s.amount,
                             'creditor_name', s.account_name, 'bank_bin', s.bank_bin,
                             'account_number', s.account_number, 'requested_execution_date', $6::text) AS payload
    FROM sent s WHERE s.channel = 'bank'
    UNION ALL
    SELECT s.id, 0, 'CashPaymentOrdered', 'payments.cash-orders', s.paying_office,
           md5('CashPaymentOrdered/' || s.payment_id || '/' || s.attempt)::uuid,
           json_build_object('payment_id', s.payment_id, 'award_id', s.award_id, 'period', s.period,
                             'amount', s.amount, 'beneficiary_code', s.beneficiary_code,
                             'beneficiary_name', s.beneficiary_name, 'citizen_id', s.citizen_id,
                             'paying_office', s.paying_office, 'home_delivery', s.home_delivery,
                             'pay_from', CASE WHEN s.paying_office LIKE ANY($7::text[]) THEN $8 ELSE $10 END,
                             'pay_until', CASE WHEN s.paying_office LIKE ANY($7::text[]) THEN $9 ELSE $11 END)
    FROM sent s WHERE s.channel = 'cash'
    UNION ALL
    SELECT s.id, 1, 'PaymentSent', 'payments.events', s.beneficiary_code,
           md5('PaymentSent/' || s.payment_id || '/' || s.attempt)::uuid,
           json_build_object('payment_id', s.payment_id, 'beneficiary_code', s.beneficiary_code,
                             'award_id', s.award_id, 'period', s.period, 'amount', s.amount, 'channel', s.channel,
                             'bank_bin', s.bank_bin, 'paying_office', s.paying_office, 'attempt', s.attempt)
    FROM sent s
), written AS (
    INSERT INTO outbox (event_id, topic, key, value, headers)
    SELECT e.event_id, e.topic, convert_to(e.key, 'UTF8'),
           convert_to(json_build_object('event_id', e.event_id, 'type', e.type, 'schema_version', 1,
                                        'occurred_at', $4::text, 'producer', 'payments', 'correlation_id', $5::uuid,
                                        'causation_id', NULL, 'payload', e.payload)::text, 'UTF8'),
           jsonb_build_object('type', e.type, 'correlation_id', $5::text)
    FROM events e
    RETURNING 1
)
SELECT (SELECT last FROM bounds) AS last, (SELECT count(*) FROM written) AS events,
       (SELECT coalesce(json_agg(x), '[]') FROM (
            SELECT channel, count(*) AS n, sum(amount) AS amount FROM sent GROUP BY channel) x)::text AS sent
"""


async def send_chunk(conn: asyncpg.Connection, period: date, cursor: int, limit: int, occurred_at: str,
                     correlation_id: UUID, execution_date: date, point_patterns: list[str],
                     windows: dict[str, tuple[date, date]]) -> asyncpg.Record:
    (pp_from, pp_until), (po_from, po_until) = windows["payment_point"], windows["post_office"]
    row = await conn.fetchrow(SEND_CHUNK, period, cursor, limit, occurred_at, correlation_id,
                              execution_date.isoformat(), point_patterns, pp_from.isoformat(), pp_until.isoformat(),
                              po_from.isoformat(), po_until.isoformat())
    if row["last"] is not None:
        sent = sum(x["n"] for x in _json_rows(row["sent"]))
        await conn.execute("UPDATE runs SET send_cursor = greatest(send_cursor, $2), "
                           "sent_payments = sent_payments + $3 WHERE period = $1", period, row["last"], sent)
        await conn.execute(f"NOTIFY {SCHEMA}_outbox")
    return row


async def finish_sending(conn: asyncpg.Connection, period: date) -> None:
    await conn.execute("UPDATE runs SET state = 'sent', finished_at = now() WHERE period = $1 AND state = 'sending'",
                       period)


async def run_states(conn: asyncpg.Connection, period: date) -> list[asyncpg.Record]:
    """Payments of the run by channel and state; 'created' reads 'approved' once the run is approved."""
    return await conn.fetch(
        "SELECT p.channel, CASE WHEN p.state = 'created' AND r.state IN ('approved', 'sending', 'sent') "
        "THEN 'approved' ELSE p.state END AS state, count(*) AS n, sum(p.amount) AS amount "
        "FROM payments p JOIN runs r ON r.period = p.run_period WHERE p.run_period = $1 GROUP BY 1, 2", period)


def _json_rows(text: str) -> list[dict]:
    import json
    return json.loads(text)


# ---- pain.001 batches of a run --------------------------------------------------------------------------------
async def unbatched_transfers(conn: asyncpg.Connection, period: date, after: int,
                              up_to: int | None) -> list[asyncpg.Record]:
    """The run's first-attempt bank payments with ids in (after, up_to] that have left and are in no pain.001
    part yet (retries travel in their own batches), by bank then id, each with its bank's count and VND over
    the same rows, computed by the database (the batch builder checks its items against them)."""
    return await conn.fetch(
        "SELECT p.id, p.payment_id, p.amount, p.account_name, p.bank_bin, p.account_number, "
        "count(*) OVER w AS bank_count, sum(p.amount) OVER w AS bank_amount FROM payments p "
        "WHERE p.run_period = $1 AND p.id > $2 AND ($3::bigint IS NULL OR p.id <= $3) AND p.channel = 'bank' "
        "AND p.attempt = 1 AND p.state NOT IN ('created', 'approved', 'stopped') "
        "AND NOT EXISTS (SELECT 1 FROM bank_batch_items i WHERE i.payment_id = p.payment_id) "
        "WINDOW w AS (PARTITION BY p.bank_bin) ORDER BY p.bank_bin, p.id", period, after, up_to)
