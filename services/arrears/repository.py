"""The SQL of arrears' core: the ledger (principal and payments per employer, period and fund) and the accrual run.

Writers of ``debts`` are serialised against the accrual run by one advisory lock: handlers take it shared
(they run concurrently with each other), a run chunk takes it exclusive. A chunk reads every debt, computes
and writes back in one statement; without the lock a payment committed while the statement runs could be
overwritten by the run's ``changed = false`` and its interest effect never recomputed.
"""
from __future__ import annotations

from datetime import date
from uuid import UUID

import asyncpg

SCHEMA = "arrears"
LEDGER_LOCK = "arrears.debts"
TOPIC = "arrears.events"
PRODUCER = "arrears"

# The debts a run looks at; the same predicate as the partial index debts_to_accrue (migration 0002), so
# the planner can use it when most debts are settled.
TO_ACCRUE = "(changed OR principal > paid)"


async def share_ledger(conn: asyncpg.Connection) -> None:
    """Inside a handler's transaction: wait for a running accrual chunk, then let it wait for us."""
    await conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext($1))", LEDGER_LOCK)


async def own_ledger(conn: asyncpg.Connection) -> None:
    """Inside an accrual chunk's transaction: no handler writes debts until it commits."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", LEDGER_LOCK)


async def add_principal(conn: asyncpg.Connection, rows: list[tuple[str, date, str, date, int]]) -> None:
    """Add (employer, period, fund, due date, amount) to the principal; the debt is then recomputed."""
    if not rows:
        return
    employers, periods, funds, dues, amounts = zip(*sorted(rows))
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.debts AS d (employer_code, period, fund, due_date, principal)
        SELECT e, p, f, max(d), sum(a) FROM unnest($1::text[], $2::date[], $3::text[], $4::date[], $5::bigint[])
            AS t(e, p, f, d, a)
        GROUP BY e, p, f ORDER BY e, p, f
        ON CONFLICT (employer_code, period, fund) DO UPDATE
        SET principal = d.principal + excluded.principal, due_date = excluded.due_date, changed = true,
            updated_at = now()""", list(employers), list(periods), list(funds), list(dues), list(amounts))


async def add_payments(conn: asyncpg.Connection, rows: list[tuple[str, date, str, date, int]]) -> None:
    """Add payment lines (employer, period, fund, value date, amount), summed per value date, and bring
    each debt's paid total and latest value date along; the debt is then recomputed."""
    if not rows:
        return
    employers, periods, funds, values, amounts = zip(*sorted(rows))
    args = (list(employers), list(periods), list(funds), list(values), list(amounts))
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.payment_lines AS p (employer_code, period, fund, value_date, amount)
        SELECT e, p, f, v, sum(a) FROM unnest($1::text[], $2::date[], $3::text[], $4::date[], $5::bigint[])
            AS t(e, p, f, v, a)
        GROUP BY e, p, f, v ORDER BY e, p, f, v
        ON CONFLICT (employer_code, period, fund, value_date) DO UPDATE SET amount = p.amount + excluded.amount""",
                       *args)
    await conn.execute(f"""
        INSERT INTO {SCHEMA}.debts AS d (employer_code, period, fund, paid, last_value_date)
        SELECT e, p, f, sum(a), max(v) FROM unnest($1::text[], $2::date[], $3::text[], $4::date[], $5::bigint[])
            AS t(e, p, f, v, a)
        GROUP BY e, p, f ORDER BY e, p, f
        ON CONFLICT (employer_code, period, fund) DO UPDATE
        SET paid = d.paid + excluded.paid, changed = true, updated_at = now(),
            last_value_date = greatest(d.last_value_date, excluded.last_value_date)""", *args)


# ---- the accrual run ------------------------------------------------------------------------------------
async def run_row(conn: asyncpg.Connection, business_date: date) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {SCHEMA}.accrual_runs WHERE business_date = $1", business_date)


async def latest_run(conn: asyncpg.Connection) -> date | None:
    return await conn.fetchval(f"SELECT max(business_date) FROM {SCHEMA}.accrual_runs")


async def unfinished_before(conn: asyncpg.Connection, business_date: date) -> list[date]:
    return [r[0] for r in await conn.fetch(
        f"SELECT business_date FROM {SCHEMA}.accrual_runs WHERE finished_at IS NULL AND business_date < $1 "
        "ORDER BY business_date", business_date)]


async def finished_before(conn: asyncpg.Connection, business_date: date) -> date | None:
    return await conn.fetchval(f"SELECT max(business_date) FROM {SCHEMA}.accrual_runs "
                               "WHERE finished_at IS NOT NULL AND business_date < $1", business_date)


async def start_run(conn: asyncpg.Connection, business_date: date, run_id: UUID, chunks: int,
                    previous: date | None) -> asyncpg.Record:
    """The run row of ``business_date`` (a rerun after a crash finds the first attempt's id and chunk count)."""
    await conn.execute(f"INSERT INTO {SCHEMA}.accrual_runs (business_date, run_id, chunks, previous_date) "
                       "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING", business_date, run_id, chunks, previous)
    return await run_row(conn, business_date)


async def chunk_done(conn: asyncpg.Connection, business_date: date, chunk: int) -> bool:
    return bool(await conn.fetchval(f"SELECT 1 FROM {SCHEMA}.accrual_chunks WHERE business_date = $1 AND chunk = $2",
                                    business_date, chunk))


async def finish_run(conn: asyncpg.Connection, business_date: date) -> asyncpg.Record:
    await conn.execute(f"UPDATE {SCHEMA}.accrual_runs SET finished_at = coalesce(finished_at, now()) "
                       "WHERE business_date = $1", business_date)
    return await run_totals(conn, business_date)


async def run_totals(conn: asyncpg.Connection, business_date: date) -> asyncpg.Record:
    return await conn.fetchrow(f"""
        SELECT count(*) AS chunks_done, coalesce(sum(debts), 0) AS debts, coalesce(sum(employers), 0) AS employers,
               coalesce(sum(assessed), 0) AS assessed, coalesce(sum(corrected), 0) AS corrected
        FROM {SCHEMA}.accrual_chunks WHERE business_date = $1""", business_date)


# One chunk of a run, one statement. Parameters: $1 business date D, $2 chunk, $3 chunks, $4..$9 the interest
# rules as arrays (id, first day, last day or NULL, num, den, min days late), $10 run id, $11 occurred_at,
# $12 A, the previous finished run's date (days after it are new to this run).
#
# Interest charged so far on a debt is always the closed form of the rule over what the runs SAW of it
# (principal_seen, payment_lines.seen) up to A: every run charges exactly the new days of what it sees, and
# recomputes what changed. So:
#
# * simple debts (the bulk: unchanged unpaid ones, and debts late only after A with no payment dated in the
#   new days): the new days on a constant unpaid principal, per rule in force, days past the rule's
#   threshold x round_half_up(unpaid x num / den). An unchanged debt is only read, never written.
# * other changed debts: the days from the first day late are cut into stretches on which nothing changes (cuts at
#   the first day late, each payment's value date, each rule's first day, each threshold, and A+1); on each
#   stretch, the interest under the current figures and under the seen ones. Days up to A: current minus
#   seen is the correction (InterestCorrected); days after A are assessed. The debt's seen figures are then
#   brought up to date. A debt with a payment dated after D stays changed until the runs pass that date.
#
# Each per-stretch amount is days x the per-day amount of domain/interest.py, so the sums are the pure
# rule's to the dong (tests/integration/arrears/test_accrual_properties.py).
ACCRUE_CHUNK = f"""
WITH rules AS (
    SELECT * FROM unnest($4::text[], $5::date[], $6::date[], $7::bigint[], $8::bigint[], $9::int[])
        AS r(rule_id, start_day, end_day, num, den, min_days)
),
thresholds AS (SELECT DISTINCT min_days FROM rules),
looked_at AS MATERIALIZED (
    SELECT employer_code, period, fund, due_date, principal, paid, principal_seen, last_value_date, changed,
           due_date + 1 AS first_late,
           -- Simple: no day up to A to re-check (unchanged, or late only after A) and no payment dated inside
           -- the new days, so the unpaid principal is constant over them.
           (NOT changed OR due_date >= $12)
               AND coalesce(last_value_date, '-infinity'::date) <= greatest($12, due_date) + 1 AS simple
    FROM {SCHEMA}.debts
    WHERE {TO_ACCRUE} AND due_date < $1
      AND ($3 = 1 OR mod(hashtext(employer_code)::bigint + 2147483648, $3) = $2)
),
steady AS (
    SELECT d.employer_code, d.period, d.fund, r.rule_id,
           greatest($12 + 1, r.start_day, d.due_date + r.min_days) AS new_from,
           least($1, r.end_day) AS new_to,
           div(2 * (d.principal - d.paid)::numeric * r.num + r.den, 2 * r.den) AS daily
    FROM looked_at d
    JOIN rules r ON r.start_day <= $1 AND coalesce(r.end_day, 'infinity'::date) > $12
    WHERE d.simple AND d.principal > d.paid
      AND greatest($12 + 1, r.start_day, d.due_date + r.min_days) <= least($1, r.end_day)
),
cand AS MATERIALIZED (SELECT * FROM looked_at WHERE NOT simple),
marks AS (
    SELECT employer_code, period, fund, first_late AS day, 0::bigint AS paid, 0::bigint AS paid_seen FROM cand
    UNION ALL
    SELECT c.employer_code, c.period, c.fund, greatest(p.value_date, c.first_late), p.amount, p.seen
    FROM cand c JOIN {SCHEMA}.payment_lines p USING (employer_code, period, fund)
    WHERE p.value_date <= $1
    UNION ALL
    SELECT c.employer_code, c.period, c.fund, r.start_day, 0, 0
    FROM cand c JOIN rules r ON r.start_day > c.first_late AND r.start_day <= $1
    UNION ALL
    SELECT c.employer_code, c.period, c.fund, c.due_date + t.min_days, 0, 0
    FROM cand c CROSS JOIN thresholds t
    WHERE c.due_date + t.min_days > c.first_late AND c.due_date + t.min_days <= $1
    UNION ALL
    SELECT employer_code, period, fund, $12 + 1, 0, 0 FROM cand WHERE $12 + 1 > first_late AND $12 + 1 <= $1
),
points AS (
    SELECT employer_code, period, fund, day, sum(paid) AS paid, sum(paid_seen) AS paid_seen
    FROM marks GROUP BY employer_code, period, fund, day
),
stretches AS (
    SELECT employer_code, period, fund, day AS s, coalesce(lead(day) OVER w - 1, $1) AS e,
           sum(paid) OVER (w ROWS UNBOUNDED PRECEDING) AS paid,
           sum(paid_seen) OVER (w ROWS UNBOUNDED PRECEDING) AS paid_seen
    FROM points WINDOW w AS (PARTITION BY employer_code, period, fund ORDER BY day)
),
charged AS (
    SELECT c.employer_code, c.period, c.fund, r.rule_id, st.s, st.e, st.s <= $12 AS seen_before,
           c.principal > st.paid AS owed,
           (st.e - st.s + 1) * div(2 * greatest(c.principal - st.paid, 0)::numeric * r.num + r.den, 2 * r.den)
               AS amount,
           (st.e - st.s + 1) * div(2 * greatest(c.principal_seen - st.paid_seen, 0)::numeric * r.num + r.den,
                                   2 * r.den) AS amount_seen
    FROM stretches st
    JOIN cand c USING (employer_code, period, fund)
    JOIN rules r ON st.s >= r.start_day AND st.s <= coalesce(r.end_day, 'infinity'::date)
    WHERE st.s - c.due_date >= r.min_days
),
recomputed AS (
    SELECT employer_code, period, fund, rule_id,
           coalesce(sum(amount - amount_seen) FILTER (WHERE seen_before), 0) AS corrected,
           coalesce(sum(amount) FILTER (WHERE NOT seen_before), 0) AS assessed,
           min(s) FILTER (WHERE NOT seen_before AND owed) AS new_from,
           max(e) FILTER (WHERE NOT seen_before AND owed) AS new_to
    FROM charged GROUP BY employer_code, period, fund, rule_id
),
seen_debts AS (  -- the changed rows of looked_at, selected again directly (a join would cost a hash of them)
    UPDATE {SCHEMA}.debts d SET principal_seen = d.principal, changed = coalesce(d.last_value_date > $1, false),
                                updated_at = now()
    WHERE d.changed AND d.due_date < $1
      AND ($3 = 1 OR mod(hashtext(d.employer_code)::bigint + 2147483648, $3) = $2)
    RETURNING 1
),
seen_payments AS (
    UPDATE {SCHEMA}.payment_lines p SET seen = p.amount
    FROM looked_at c
    WHERE c.changed AND p.employer_code = c.employer_code AND p.period = c.period AND p.fund = c.fund
      AND p.seen <> p.amount
    RETURNING 1
),
postings AS (
    SELECT employer_code, period, 'assessed' AS kind, rule_id, min(new_from) AS from_day, max(new_to) AS to_day,
           sum(amount)::bigint AS amount
    FROM (SELECT employer_code, period, rule_id, new_from, new_to, (new_to - new_from + 1) * daily AS amount
          FROM steady
          UNION ALL
          SELECT employer_code, period, rule_id, new_from, new_to, assessed FROM recomputed) a
    WHERE amount <> 0 GROUP BY employer_code, period, rule_id
    UNION ALL
    SELECT x.employer_code, x.period, 'corrected', x.rule_id, min(greatest(c.first_late, r.start_day)),
           max(least($12, coalesce(r.end_day, 'infinity'::date))), sum(x.corrected)::bigint
    FROM recomputed x JOIN cand c USING (employer_code, period, fund) JOIN rules r USING (rule_id)
    WHERE x.corrected <> 0 GROUP BY x.employer_code, x.period, x.rule_id HAVING sum(x.corrected) <> 0
),
posted AS (
    INSERT INTO {SCHEMA}.interest_postings AS ip
        (business_date, employer_code, period, kind, rule_id, from_day, to_day, amount)
    SELECT $1, employer_code, period, kind, rule_id, from_day, to_day, amount FROM postings
    ON CONFLICT (business_date, employer_code, period, kind, rule_id) DO UPDATE
    SET amount = ip.amount + excluded.amount, from_day = least(ip.from_day, excluded.from_day),
        to_day = greatest(ip.to_day, excluded.to_day)
    RETURNING 1
),
events AS (
    SELECT gen_random_uuid() AS event_id, employer_code,
           CASE kind WHEN 'assessed' THEN 'InterestAssessed' ELSE 'InterestCorrected' END AS type,
           sum(amount) AS amount,
           json_agg(json_build_object('period', to_char(period, 'YYYY-MM'), 'rule', rule_id,
                                      'from_day', from_day, 'to_day', to_day, 'amount', amount)
                    ORDER BY period, from_day, rule_id) AS lines  -- json, not jsonb: built once, never parsed
    FROM postings GROUP BY employer_code, kind
),
published AS (
    INSERT INTO {SCHEMA}.outbox (event_id, topic, key, value, headers)
    SELECT event_id, '{TOPIC}', convert_to(employer_code, 'UTF8'),
           convert_to(json_build_object(
               'event_id', event_id, 'type', type, 'schema_version', 1, 'occurred_at', $11::text,
               'producer', '{PRODUCER}', 'correlation_id', $10::uuid, 'causation_id', NULL,
               'payload', json_build_object('employer_code', employer_code, 'business_date', $1::date,
                                            'amount', amount, 'lines', lines))::text, 'UTF8'),
           jsonb_build_object('type', type, 'correlation_id', $10::text)
    FROM events ORDER BY employer_code, type  -- per employer: InterestAssessed, then InterestCorrected
    RETURNING 1
)
INSERT INTO {SCHEMA}.accrual_chunks (business_date, chunk, debts, employers, assessed, corrected)
SELECT $1, $2,
       (SELECT count(*) FROM looked_at),
       (SELECT count(DISTINCT employer_code) FROM postings),
       coalesce((SELECT sum(amount) FROM postings WHERE kind = 'assessed'), 0),
       coalesce((SELECT sum(amount) FROM postings WHERE kind = 'corrected'), 0)
RETURNING debts, employers, assessed, corrected
"""


async def accrue_chunk(conn: asyncpg.Connection, business_date: date, chunk: int, chunks: int, rules: tuple,
                       run_id: UUID, occurred_at: str, previous: date) -> asyncpg.Record:
    """Accrue one chunk of employers: the days after ``previous`` up to ``business_date``, and corrections of
    the days up to ``previous`` of debts that changed. Call inside the chunk's transaction."""
    return await conn.fetchrow(ACCRUE_CHUNK, business_date, chunk, chunks, *rules, run_id, occurred_at, previous)


async def notify_outbox(conn: asyncpg.Connection) -> None:
    await conn.execute(f"NOTIFY {SCHEMA}_outbox")
