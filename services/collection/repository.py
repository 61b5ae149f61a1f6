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


async def save_assessments(conn: asyncpg.Connection, new: list[tuple], revised: list[tuple]) -> None:
    """Write the latest revisions (rows in ``_ASSESSMENT_COLUMNS`` order): ``new`` ones, whose key has no row
    yet (nearly all: first declarations), by COPY straight into the table; ``revised`` ones over their row.

    The caller read the keys in this transaction (``current_assessments``) and is the only writer of
    assessments for its employers (one declarations transaction at a time per partition, keyed by employer);
    should another writer still insert the same key meanwhile, the COPY fails on the primary key instead of
    overwriting a revision it never compared with.
    """
    if new:
        await conn.copy_records_to_table("assessments", schema_name=S, records=new, columns=_ASSESSMENT_COLUMNS)
    if revised:
        sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(_ASSESSMENT_COLUMNS[3:], start=4))
        await conn.executemany(f"UPDATE {S}.assessments SET {sets}, updated_at = now() "
                               "WHERE employer_code = $1 AND worker_code = $2 AND period = $3", revised)


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

    Every path that touches obligations, payments or credit calls this once, before it reads or writes any of
    them, so that a declaration and a payment for one employer never work from each other's half-done state
    (READ COMMITTED: whoever comes second waits here and then reads what the first committed). Rows are
    created and locked in code order on every path, so two transactions never wait for each other in a
    circle. A declaration batch does its other work (inbox, assessments, flags, its events) first and takes
    the locks only for its money part, so that payments wait for that part, not for the whole batch.
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


async def open_obligations_of(conn: asyncpg.Connection, employers: Sequence[str]) -> dict[str, list[Obligation]]:
    """What each employer owes and has not paid, per period and fund (employers without any are left out)."""
    out: dict[str, list[Obligation]] = {}
    if employers:
        for r in await conn.fetch(f"SELECT employer_code, period, fund, assessed - paid AS outstanding "
                                  f"FROM {S}.obligations WHERE employer_code = ANY($1::text[]) AND assessed > paid",
                                  list(employers)):
            out.setdefault(r["employer_code"], []).append(Obligation(Period.of(r["period"]), r["fund"],
                                                                     r["outstanding"]))
    return out


async def credit_lots_of(conn: asyncpg.Connection, employers: Sequence[str]) -> dict[str, list[CreditLot]]:
    """Each employer's unapplied money, by the payment it came from (employers without any are left out)."""
    out: dict[str, list[CreditLot]] = {}
    if employers:
        for r in await conn.fetch(f"SELECT employer_code, payment_id, value_date, remaining FROM {S}.credit_lots "
                                  "WHERE employer_code = ANY($1::text[]) AND remaining > 0", list(employers)):
            out.setdefault(r["employer_code"], []).append(CreditLot(r["payment_id"], r["value_date"], r["remaining"]))
    return out


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


async def paid_by_of(conn: asyncpg.Connection, obligations: list[tuple[str, Period, str]]
                     ) -> dict[tuple[str, Period, str], list[PaidBy]]:
    """The payments that paid each obligation ``(employer, period, fund)``, net of what was released from
    them before (obligations nothing paid are left out)."""
    rows = await conn.fetch(
        f"""SELECT a.employer_code, a.period, a.fund, a.payment_id, a.value_date, sum(a.amount)::bigint AS amount,
                   max(a.id) AS latest
            FROM {S}.allocations a
            JOIN (SELECT DISTINCT * FROM unnest($1::text[], $2::date[], $3::text[]) AS k(e, p, f)) k
              ON a.employer_code = k.e AND a.period = k.p AND a.fund = k.f
            GROUP BY a.employer_code, a.period, a.fund, a.payment_id, a.value_date HAVING sum(a.amount) > 0""",
        [e for e, _, _ in obligations], [p.first_day for _, p, _ in obligations], [f for _, _, f in obligations])
    out: dict[tuple[str, Period, str], list[PaidBy]] = {}
    for r in rows:
        out.setdefault((r["employer_code"], Period.of(r["period"]), r["fund"]), []).append(
            PaidBy(r["payment_id"], r["value_date"], r["amount"], r["latest"]))
    return out


async def record_releases(conn: asyncpg.Connection, releases: list[tuple[str, Period, str, CreditLot]]) -> None:
    """Negative allocation rows, ``(employer, period, fund, lot)``: this much of each payment no longer pays the
    obligation."""
    if releases:
        await conn.execute(
            f"""INSERT INTO {S}.allocations (payment_id, employer_code, period, fund, amount, value_date, kind)
                SELECT p, e, d, f, a, v, 'released'
                FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::bigint[], $6::date[])
                     AS t(p, e, d, f, a, v)""",
            [lot.payment_id for _, _, _, lot in releases], [e for e, _, _, _ in releases],
            [p.first_day for _, p, _, _ in releases], [f for _, _, f, _ in releases],
            [-lot.remaining for _, _, _, lot in releases], [lot.value_date for _, _, _, lot in releases])


async def apply_allocations(conn: asyncpg.Connection,
                            allocations: list[tuple[str, str, date, list[tuple[Period, str, int]]]]) -> None:
    """Pay obligations from payments: ``(employer, payment_id, value_date, lines)``, two statements for all.
    The allocation rows are numbered in the order given (``paid_by_of`` tells the newest, released first)."""
    rows = [(employer, payment_id, value_date, p.first_day, f, a)
            for employer, payment_id, value_date, lines in allocations for p, f, a in lines]
    if not rows:
        return
    paid: dict[tuple[str, date, str], int] = {}
    for employer, _, _, day, fund, amount in rows:
        paid[(employer, day, fund)] = paid.get((employer, day, fund), 0) + amount
    await conn.execute(
        f"""UPDATE {S}.obligations o SET paid = o.paid + d.amount
            FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[]) AS d(employer_code, period, fund, amount)
            WHERE (o.employer_code, o.period, o.fund) = (d.employer_code, d.period, d.fund)""",
        *map(list, zip(*((e, d, f, a) for (e, d, f), a in paid.items()))))
    await conn.execute(
        f"""INSERT INTO {S}.allocations (employer_code, payment_id, value_date, period, fund, amount)
            SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::date[], $5::text[], $6::bigint[])""",
        *map(list, zip(*rows)))


async def replace_credit(conn: asyncpg.Connection, lots_of: dict[str, list[CreditLot]]) -> None:
    """Replace the credit lots of the employers in ``lots_of`` and set their balances: three statements for all."""
    if not lots_of:
        return
    employers = list(lots_of)
    await conn.execute(f"DELETE FROM {S}.credit_lots WHERE employer_code = ANY($1::text[])", employers)
    rows = [(e, l.payment_id, l.value_date, l.remaining) for e, lots in lots_of.items() for l in lots]
    if rows:
        await conn.execute(f"INSERT INTO {S}.credit_lots (employer_code, payment_id, value_date, remaining) "
                           "SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::bigint[])",
                           *map(list, zip(*rows)))
    await conn.execute(
        f"""UPDATE {S}.employers e SET credit = d.credit, updated_at = now()
            FROM unnest($1::text[], $2::bigint[]) AS d(employer_code, credit)
            WHERE e.employer_code = d.employer_code""",
        employers, [sum(l.remaining for l in lots_of[e]) for e in employers])


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
