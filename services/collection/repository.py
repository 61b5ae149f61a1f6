"""Collection's SQL, in batch-friendly statements. Every function runs on a connection inside a transaction."""
from __future__ import annotations

import json
from datetime import date
from typing import Iterable, Sequence

import asyncpg
import orjson

from services.collection.domain.allocation import CreditLot, Obligation, PaidBy
from services.collection.domain.model import Assessment, Period

S = "collection"


async def current_assessments(conn: asyncpg.Connection, keys: Sequence[tuple[str, str, Period]]
                              ) -> dict[tuple[str, str, Period], Assessment]:
    if not keys:
        return {}
    rows = await conn.fetch(
        f"""SELECT a.* FROM {S}.assessments a
            JOIN unnest($1::text[], $2::text[], $3::date[]) AS k(e, w, p)
              ON a.employer_code = k.e AND a.worker_code = k.w AND a.period = k.p""",
        [k[0] for k in keys], [k[1] for k in keys], [k[2].first_day for k in keys])
    return {(r["employer_code"], r["worker_code"], Period.of(r["period"])): _assessment(r) for r in rows}


def _assessment(r: asyncpg.Record) -> Assessment:
    return Assessment(r["employer_code"], r["worker_code"], Period.of(r["period"]), r["revision"],
                      r["declared_salary"], r["social_base"], r["unemployment_base"], 0, r["floor_applied"],
                      r["cap_applied"], r["due_date"], tuple(tuple(x) for x in json.loads(r["lines"])))


_ASSESSMENT_COLUMNS = ("employer_code", "worker_code", "period", "revision", "worker_name", "citizen_id", "funds",
                       "declared_salary", "social_base", "unemployment_base", "floor_applied", "cap_applied",
                       "due_date", "lines", "total")


async def save_assessments(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """Upsert the latest revisions (rows in ``_ASSESSMENT_COLUMNS`` order) through COPY into a temp table."""
    if not rows:
        return
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS assessments_in (LIKE {S}.assessments INCLUDING DEFAULTS) "
                       "ON COMMIT DELETE ROWS")
    await conn.copy_records_to_table("assessments_in", records=rows, columns=_ASSESSMENT_COLUMNS)
    cols = ", ".join(_ASSESSMENT_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in _ASSESSMENT_COLUMNS[3:])
    await conn.execute(f"INSERT INTO {S}.assessments ({cols}) SELECT {cols} FROM assessments_in "
                       f"ON CONFLICT (employer_code, worker_code, period) DO UPDATE SET {updates}, updated_at = now()")


def assessment_row(a: Assessment, worker_name: str, citizen_id: str, funds: Iterable[str]) -> tuple:
    return (a.employer_code, a.worker_code, a.period.first_day, a.revision, worker_name, citizen_id, list(funds),
            a.declared_salary, a.social_base, a.unemployment_base, a.floor_applied, a.cap_applied, a.due_date,
            orjson.dumps(a.lines).decode(), a.total)


async def add_to_obligations(conn: asyncpg.Connection, deltas: dict[tuple[str, date, str], list]
                             ) -> list[tuple[str, Period, str, int]]:
    """Add assessed deltas; where a reduction leaves more paid than owed, release the excess (returned).

    Increases (nearly all of them: first declarations) take a plain upsert; only reductions need the
    statement that compares with what was paid. The employers are locked (``lock_employers``), so ``old``
    needs no row locks; it must not take any: a ``FOR UPDATE`` in one CTE skips the rows a sibling CTE of
    the same statement updates, and those releases were silently lost.
    """
    ups = [(k, v) for k, v in deltas.items() if v[0] >= 0]
    downs = [(k, v) for k, v in deltas.items() if v[0] < 0]
    if ups:
        await conn.execute(
            f"""INSERT INTO {S}.obligations (employer_code, period, fund, assessed, paid, due_date)
                SELECT e, p, f, d, 0, due FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::date[])
                       AS t(e, p, f, d, due)
                ON CONFLICT (employer_code, period, fund) DO UPDATE
                SET assessed = obligations.assessed + EXCLUDED.assessed, due_date = EXCLUDED.due_date""",
            *_columns(ups))
    if not downs:
        return []
    rows = await conn.fetch(
        f"""WITH d AS (SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::date[])
                       AS t(employer_code, period, fund, delta, due_date)),
            old AS (SELECT o.employer_code, o.period, o.fund, o.paid FROM {S}.obligations o
                    JOIN d USING (employer_code, period, fund)),
            up AS (UPDATE {S}.obligations o
                   SET assessed = o.assessed + d.delta,
                       paid = LEAST(o.paid, GREATEST(o.assessed + d.delta, 0)), due_date = d.due_date
                   FROM d WHERE (o.employer_code, o.period, o.fund) = (d.employer_code, d.period, d.fund)
                   RETURNING o.employer_code, o.period, o.fund, o.paid)
            SELECT up.employer_code, up.period, up.fund, old.paid - up.paid AS released
            FROM up JOIN old USING (employer_code, period, fund) WHERE old.paid > up.paid""",
        *_columns(downs))
    return [(r["employer_code"], Period.of(r["period"]), r["fund"], r["released"]) for r in rows]


def _columns(items):
    return ([k[0] for k, _ in items], [k[1] for k, _ in items], [k[2] for k, _ in items],
            [v[0] for _, v in items], [v[1] for _, v in items])


async def save_flags(conn: asyncpg.Connection, flags: list[tuple]) -> None:
    if flags:
        await conn.executemany(
            f"INSERT INTO {S}.compliance_flags (employer_code, worker_code, period, revision, kind, declared_salary, "
            "floor) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING", flags)


async def lock_employers(conn: asyncpg.Connection, employers: Iterable[str]) -> dict[str, int]:
    """Serialize every money movement of these employers; returns their credit balances.

    Every path that touches obligations, payments or credit calls this once, first, so that a declaration
    and a payment for one employer never work from each other's half-done state (READ COMMITTED: whoever
    comes second waits here and then reads what the first committed). Rows are created and locked in code
    order on every path, so two transactions never wait for each other in a circle.
    """
    codes = sorted(set(employers))
    if not codes:
        return {}
    await conn.execute(f"INSERT INTO {S}.employers (employer_code) SELECT c FROM unnest($1::text[]) AS t(c) "
                       "ORDER BY c ON CONFLICT DO NOTHING", codes)
    rows = await conn.fetch(f"SELECT employer_code, credit FROM {S}.employers WHERE employer_code = ANY($1::text[]) "
                            "ORDER BY employer_code FOR UPDATE", codes)  # ORDER BY first, then the locks
    return {r["employer_code"]: r["credit"] for r in rows}


async def known_employers(conn: asyncpg.Connection, employers: Iterable[str]) -> set[str]:
    """The employers collection has seen: a declaration or a payment (older data: obligations only)."""
    codes = list(set(employers))
    if not codes:
        return set()
    rows = await conn.fetch(
        f"""SELECT employer_code FROM {S}.employers WHERE employer_code = ANY($1::text[])
            UNION SELECT DISTINCT employer_code FROM {S}.obligations WHERE employer_code = ANY($1::text[])""", codes)
    return {r["employer_code"] for r in rows}


async def employers_with_credit(conn: asyncpg.Connection, employers: Sequence[str]) -> list[str]:
    """Of ``employers`` (already locked), those holding credit."""
    rows = await conn.fetch(f"SELECT employer_code FROM {S}.employers WHERE employer_code = ANY($1::text[]) "
                            "AND credit > 0 ORDER BY employer_code", list(employers))
    return [r["employer_code"] for r in rows]


async def open_obligations(conn: asyncpg.Connection, employer: str) -> list[Obligation]:
    rows = await conn.fetch(f"SELECT period, fund, assessed - paid AS outstanding FROM {S}.obligations "
                            "WHERE employer_code = $1 AND assessed > paid", employer)
    return [Obligation(Period.of(r["period"]), r["fund"], r["outstanding"]) for r in rows]


async def credit_lots(conn: asyncpg.Connection, employer: str) -> list[CreditLot]:
    rows = await conn.fetch(f"SELECT payment_id, value_date, remaining FROM {S}.credit_lots "
                            "WHERE employer_code = $1 AND remaining > 0", employer)
    return [CreditLot(r["payment_id"], r["value_date"], r["remaining"]) for r in rows]


async def record_receipt(conn: asyncpg.Connection, payment_id: str, employer: str | None, amount: int,
                         value_date: date, bank_reference: str, bank_bin: str | None) -> asyncpg.Record | None:
    """Record money received once. None if the payment id is new; else what is already recorded under it
    (employer_code, amount, value_date), for the caller to compare."""
    inserted = await conn.fetchval(
        f"INSERT INTO {S}.remittances (payment_id, employer_code, amount, value_date, bank_reference, bank_bin) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING RETURNING true",
        payment_id, employer, amount, value_date, bank_reference, bank_bin)
    if inserted:
        return None
    return await conn.fetchrow(f"SELECT employer_code, amount, value_date FROM {S}.remittances WHERE payment_id = $1",
                               payment_id)


async def hold_in_suspense(conn: asyncpg.Connection, payment_id: str, reason: str, detail: str | None) -> int:
    """Put a recorded receipt (no employer) on the suspense list; returns its id."""
    return await conn.fetchval(f"INSERT INTO {S}.suspense (payment_id, reason, detail) VALUES ($1, $2, $3) "
                               "RETURNING id", payment_id, reason, detail)


async def suspense_receipts(conn: asyncpg.Connection, assigned: bool | None) -> list[asyncpg.Record]:
    """Receipts on the suspense list: open (assigned False), assigned (True) or all (None)."""
    where = "" if assigned is None else f"WHERE s.assigned_to IS {'NOT ' if assigned else ''}NULL"
    return await conn.fetch(
        f"""SELECT s.id, r.payment_id, r.bank_bin, r.bank_reference, r.amount, r.value_date, s.reason, s.held_at,
                   s.assigned_to, s.assigned_at
            FROM {S}.suspense s JOIN {S}.remittances r USING (payment_id) {where} ORDER BY s.id""")


async def lock_receipt(conn: asyncpg.Connection, receipt_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT s.id, s.assigned_to, r.payment_id, r.amount, r.value_date
            FROM {S}.suspense s JOIN {S}.remittances r USING (payment_id) WHERE s.id = $1 FOR UPDATE OF s""",
        receipt_id)


async def assign_receipt(conn: asyncpg.Connection, receipt_id: int, payment_id: str, employer: str,
                         principal: str) -> None:
    """The receipt becomes the employer's payment (same payment id, amount and value date)."""
    await conn.execute(f"UPDATE {S}.remittances SET employer_code = $2 WHERE payment_id = $1 AND employer_code IS NULL",
                       payment_id, employer)
    await conn.execute(f"UPDATE {S}.suspense SET assigned_to = $2, assigned_by = $3, assigned_at = now() WHERE id = $1",
                       receipt_id, employer, principal)


async def suspense_totals(conn: asyncpg.Connection) -> tuple[int, int]:
    """Open receipts on the suspense list: how many, and how many VND they hold."""
    row = await conn.fetchrow(f"SELECT count(*) AS n, coalesce(sum(r.amount), 0) AS total FROM {S}.suspense s "
                              f"JOIN {S}.remittances r USING (payment_id) WHERE s.assigned_to IS NULL")
    return row["n"], row["total"]


async def paid_by(conn: asyncpg.Connection, employer: str, period: Period, fund: str) -> list[PaidBy]:
    """The payments that paid one obligation, net of what was released from them before."""
    rows = await conn.fetch(
        f"""SELECT payment_id, value_date, sum(amount) AS amount, max(id) AS latest FROM {S}.allocations
            WHERE employer_code = $1 AND period = $2 AND fund = $3
            GROUP BY payment_id, value_date HAVING sum(amount) > 0""", employer, period.first_day, fund)
    return [PaidBy(r["payment_id"], r["value_date"], r["amount"], r["latest"]) for r in rows]


async def record_release(conn: asyncpg.Connection, employer: str, period: Period, fund: str,
                         lots: list[CreditLot]) -> None:
    """Negative allocation rows: this much of each payment no longer pays the obligation."""
    await conn.executemany(
        f"INSERT INTO {S}.allocations (payment_id, employer_code, period, fund, amount, value_date, kind) "
        "VALUES ($1, $2, $3, $4, $5, $6, 'released')",
        [(l.payment_id, employer, period.first_day, fund, -l.remaining, l.value_date) for l in lots])


async def apply_allocation(conn: asyncpg.Connection, employer: str, payment_id: str, value_date: date,
                           lines: list[tuple[Period, str, int]]) -> None:
    if not lines:
        return
    await conn.executemany(
        f"UPDATE {S}.obligations SET paid = paid + $4 WHERE employer_code = $1 AND period = $2 AND fund = $3",
        [(employer, p.first_day, f, a) for p, f, a in lines])
    await conn.executemany(
        f"INSERT INTO {S}.allocations (payment_id, employer_code, period, fund, amount, value_date) "
        "VALUES ($1, $2, $3, $4, $5, $6)", [(payment_id, employer, p.first_day, f, a, value_date) for p, f, a in lines])


async def set_credit(conn: asyncpg.Connection, employer: str, lots: list[CreditLot]) -> int:
    """Replace the employer's credit lots; returns the new balance."""
    await conn.execute(f"DELETE FROM {S}.credit_lots WHERE employer_code = $1", employer)
    if lots:
        await conn.executemany(f"INSERT INTO {S}.credit_lots (employer_code, payment_id, value_date, remaining) "
                               "VALUES ($1, $2, $3, $4)", [(employer, l.payment_id, l.value_date, l.remaining)
                                                           for l in lots])
    balance = sum(l.remaining for l in lots)
    await conn.execute(f"UPDATE {S}.employers SET credit = $2, updated_at = now() WHERE employer_code = $1",
                       employer, balance)
    return balance


async def credit_totals(conn: asyncpg.Connection) -> tuple[int, int]:
    """Credit held, and by how many employers: read from the partial index of employers in credit."""
    row = await conn.fetchrow(f"SELECT coalesce(sum(credit), 0) AS total, count(*) AS n FROM {S}.employers "
                              "WHERE credit > 0")
    return row["total"], row["n"]


async def employer_statement(conn: asyncpg.Connection, employer: str, first: Period, last: Period) -> dict:
    rows = await conn.fetch(f"SELECT period, fund, assessed, paid, due_date FROM {S}.obligations "
                            "WHERE employer_code = $1 AND period BETWEEN $2 AND $3 ORDER BY period, fund",
                            employer, first.first_day, last.first_day)
    credit = await conn.fetchval(f"SELECT credit FROM {S}.employers WHERE employer_code = $1", employer)
    return {"rows": rows, "credit": credit or 0}


async def worker_history(conn: asyncpg.Connection, worker: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT a.*, coalesce(jsonb_object_agg(o.fund, jsonb_build_array(o.assessed, o.paid))
                   FILTER (WHERE o.fund IS NOT NULL), '{{}}') AS employer_funds
            FROM {S}.assessments a
            LEFT JOIN {S}.obligations o ON o.employer_code = a.employer_code AND o.period = a.period
            WHERE a.worker_code = $1 GROUP BY a.employer_code, a.worker_code, a.period ORDER BY a.period""", worker)


async def unclaim(conn: asyncpg.Connection, schema: str, consumer: str, event_id) -> None:
    """Withdraw an inbox claim made in this transaction: a message dead-lettered after part of it was taken
    must be re-checked in full when replayed (its parts are idempotent by payment id)."""
    await conn.execute(f"DELETE FROM {schema}.inbox WHERE consumer = $1 AND event_id = $2", consumer, event_id)
