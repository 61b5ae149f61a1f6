"""Collection's SQL, in batch-friendly statements. Every function runs on a connection inside a transaction."""
from __future__ import annotations

import json
from datetime import date
from typing import Iterable, Sequence

import asyncpg
import orjson

from services.collection.domain.allocation import CreditLot, Obligation
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
    locking statement that compares with what was paid.
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
                    JOIN d USING (employer_code, period, fund) FOR UPDATE OF o),
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


async def employers_with_credit(conn: asyncpg.Connection, employers: Sequence[str]) -> list[str]:
    rows = await conn.fetch(f"SELECT employer_code FROM {S}.employers WHERE employer_code = ANY($1::text[]) "
                            "AND credit > 0 ORDER BY employer_code FOR UPDATE", list(employers))
    return [r["employer_code"] for r in rows]


async def lock_employer(conn: asyncpg.Connection, employer: str) -> int:
    """Serialize all money movements of one employer; returns its credit balance."""
    await conn.execute(f"INSERT INTO {S}.employers (employer_code) VALUES ($1) ON CONFLICT DO NOTHING", employer)
    return await conn.fetchval(f"SELECT credit FROM {S}.employers WHERE employer_code = $1 FOR UPDATE", employer)


async def open_obligations(conn: asyncpg.Connection, employer: str) -> list[Obligation]:
    rows = await conn.fetch(f"SELECT period, fund, assessed - paid AS outstanding FROM {S}.obligations "
                            "WHERE employer_code = $1 AND assessed > paid", employer)
    return [Obligation(Period.of(r["period"]), r["fund"], r["outstanding"]) for r in rows]


async def credit_lots(conn: asyncpg.Connection, employer: str) -> list[CreditLot]:
    rows = await conn.fetch(f"SELECT payment_id, value_date, remaining FROM {S}.credit_lots "
                            "WHERE employer_code = $1 AND remaining > 0", employer)
    return [CreditLot(r["payment_id"], r["value_date"], r["remaining"]) for r in rows]


async def record_payment(conn: asyncpg.Connection, payment_id: str, employer: str, amount: int, value_date: date,
                         bank_reference: str) -> bool:
    """True if this payment id is new (a repeated payment id is the same payment)."""
    inserted = await conn.fetchval(
        f"INSERT INTO {S}.remittances (payment_id, employer_code, amount, value_date, bank_reference) "
        "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (payment_id) DO NOTHING RETURNING true",
        payment_id, employer, amount, value_date, bank_reference)
    return bool(inserted)


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
    row = await conn.fetchrow(f"SELECT coalesce(sum(credit), 0) AS total, count(*) FILTER (WHERE credit > 0) AS n "
                              f"FROM {S}.employers")
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
