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

# The debts a run looks at; the same predicate as the partial index debts_to_accrue (migration 0001), so
# the planner can use it when most debts are settled.
TO_ACCRUE = "(changed OR principal > paid OR last_value_date > coalesce(accrued_through, '-infinity'::date))"


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
        WHERE f <> 'interest'
        GROUP BY e, p, f ORDER BY e, p, f
        ON CONFLICT (employer_code, period, fund) DO UPDATE
        SET paid = d.paid + excluded.paid, changed = true, updated_at = now(),
            last_value_date = greatest(d.last_value_date, excluded.last_value_date)""", *args)


# ---- the accrual run ------------------------------------------------------------------------------------
async def run_row(conn: asyncpg.Connection, business_date: date) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT * FROM {SCHEMA}.accrual_runs WHERE business_date = $1", business_date)


async def last_finished(conn: asyncpg.Connection) -> date | None:
    return await conn.fetchval(f"SELECT max(business_date) FROM {SCHEMA}.accrual_runs WHERE finished_at IS NOT NULL")


async def start_run(conn: asyncpg.Connection, business_date: date, run_id: UUID, chunks: int) -> asyncpg.Record:
    """The run row of ``business_date`` (a rerun after a crash finds the first attempt's id and chunk count)."""
    await conn.execute(f"INSERT INTO {SCHEMA}.accrual_runs (business_date, run_id, chunks) VALUES ($1, $2, $3) "
                       "ON CONFLICT DO NOTHING", business_date, run_id, chunks)
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


# One chunk of a run, one statement. Parameters: $1 business date, $2 chunk, $3 chunks, $4..$9 the interest
# rules as arrays (id, first day, last day or NULL, num, den, min days late), $10 run id, $11 occurred_at.
#
# Per debt, the days from the first day late to $1 are cut into stretches on which nothing changes: cuts at
# the first day late, each payment's value date, each rule's first day, each threshold (due date + min days
# late) and the day after accrued_through (so a stretch is either all re-checked days or all new days). On a
# stretch the unpaid principal, the rule and whether the day is past the rule's threshold are constant, so
# its interest is days x round_half_up(unpaid x num / den): exactly the sum of the per-day amounts of
# domain/interest.py, in closed form. Re-checked days minus what is stored is the correction.
ACCRUE_CHUNK = f"""
WITH rules AS (
    SELECT * FROM unnest($4::text[], $5::date[], $6::date[], $7::bigint[], $8::bigint[], $9::int[])
        AS r(rule_id, start_day, end_day, num, den, min_days)
),
thresholds AS (SELECT DISTINCT min_days FROM rules),
cand AS MATERIALIZED (
    SELECT employer_code, period, fund, due_date, principal, accrued_through, interest_by_rule,
           due_date + 1 AS first_late, coalesce(accrued_through, '-infinity'::date) AS seen
    FROM {SCHEMA}.debts
    WHERE {TO_ACCRUE} AND due_date < $1
      AND ($3 = 1 OR mod(hashtext(employer_code)::bigint + 2147483648, $3) = $2)
),
marks AS (
    SELECT employer_code, period, fund, first_late AS day, 0::bigint AS paid FROM cand
    UNION ALL
    SELECT c.employer_code, c.period, c.fund, greatest(p.value_date, c.first_late), p.amount
    FROM cand c JOIN {SCHEMA}.payment_lines p USING (employer_code, period, fund)
    WHERE p.value_date <= $1
    UNION ALL
    SELECT c.employer_code, c.period, c.fund, r.start_day, 0
    FROM cand c JOIN rules r ON r.start_day > c.first_late AND r.start_day <= $1
    UNION ALL
    SELECT c.employer_code, c.period, c.fund, c.due_date + t.min_days, 0
    FROM cand c CROSS JOIN thresholds t
    WHERE c.due_date + t.min_days > c.first_late AND c.due_date + t.min_days <= $1
    UNION ALL
    SELECT employer_code, period, fund, accrued_through + 1, 0 FROM cand
    WHERE accrued_through + 1 > first_late AND accrued_through + 1 <= $1
),
points AS (
    SELECT employer_code, period, fund, day, sum(paid) AS paid FROM marks GROUP BY employer_code, period, fund, day
),
stretches AS (
    SELECT employer_code, period, fund, day AS s, coalesce(lead(day) OVER w - 1, $1) AS e,
           sum(paid) OVER (w ROWS UNBOUNDED PRECEDING) AS paid
    FROM points WINDOW w AS (PARTITION BY employer_code, period, fund ORDER BY day)
),
charged AS (
    SELECT c.employer_code, c.period, c.fund, r.rule_id, st.s, st.e, st.s <= c.seen AS seen,
           (st.e - st.s + 1) * div(2 * (c.principal - st.paid)::numeric * r.num + r.den, 2 * r.den) AS amount
    FROM stretches st
    JOIN cand c USING (employer_code, period, fund)
    JOIN rules r ON st.s >= r.start_day AND st.s <= coalesce(r.end_day, 'infinity'::date)
    WHERE c.principal > st.paid AND st.s - c.due_date >= r.min_days
),
per_rule AS (
    SELECT employer_code, period, fund, rule_id,
           coalesce(sum(amount) FILTER (WHERE seen), 0)::bigint AS old_amount,
           coalesce(sum(amount) FILTER (WHERE NOT seen), 0)::bigint AS new_amount,
           min(s) FILTER (WHERE NOT seen) AS new_from, max(e) FILTER (WHERE NOT seen) AS new_to
    FROM charged GROUP BY employer_code, period, fund, rule_id
),
stored AS (
    SELECT c.employer_code, c.period, c.fund, j.key AS rule_id, j.value::bigint AS amount
    FROM cand c CROSS JOIN LATERAL jsonb_each_text(c.interest_by_rule) j
),
combined AS (
    SELECT employer_code, period, fund, rule_id,
           coalesce(p.old_amount, 0) - coalesce(st.amount, 0) AS corrected,
           coalesce(p.new_amount, 0) AS assessed, p.new_from, p.new_to,
           coalesce(p.old_amount, 0) + coalesce(p.new_amount, 0) AS total
    FROM per_rule p FULL JOIN stored st USING (employer_code, period, fund, rule_id)
),
totals AS (
    SELECT c.employer_code, c.period, c.fund, coalesce(sum(x.total), 0) AS interest,
           coalesce(jsonb_object_agg(x.rule_id, x.total) FILTER (WHERE x.total <> 0), '{{}}'::jsonb) AS by_rule
    FROM cand c LEFT JOIN combined x USING (employer_code, period, fund)
    GROUP BY c.employer_code, c.period, c.fund
),
updated AS (
    UPDATE {SCHEMA}.debts d
    SET accrued_through = $1, changed = false, interest = t.interest, interest_by_rule = t.by_rule,
        updated_at = now()
    FROM totals t
    WHERE d.employer_code = t.employer_code AND d.period = t.period AND d.fund = t.fund
    RETURNING 1
),
postings AS (
    SELECT employer_code, period, 'assessed' AS kind, rule_id, min(new_from) AS from_day, max(new_to) AS to_day,
           sum(assessed)::bigint AS amount
    FROM combined WHERE assessed <> 0 GROUP BY employer_code, period, rule_id
    UNION ALL
    SELECT x.employer_code, x.period, 'corrected', x.rule_id, min(greatest(c.first_late, r.start_day)),
           max(least(c.accrued_through, coalesce(r.end_day, 'infinity'::date))), sum(x.corrected)::bigint
    FROM combined x JOIN cand c USING (employer_code, period, fund) JOIN rules r USING (rule_id)
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
           jsonb_agg(jsonb_build_object('period', to_char(period, 'YYYY-MM'), 'rule', rule_id,
                                        'from_day', from_day, 'to_day', to_day, 'amount', amount)
                     ORDER BY period, from_day, rule_id) AS lines
    FROM postings GROUP BY employer_code, kind
),
published AS (
    INSERT INTO {SCHEMA}.outbox (event_id, topic, key, value, headers)
    SELECT event_id, '{TOPIC}', convert_to(employer_code, 'UTF8'),
           convert_to(jsonb_build_object(
               'event_id', event_id, 'type', type, 'schema_version', 1, 'occurred_at', $11::text,
               'producer', '{PRODUCER}', 'correlation_id', $10::uuid, 'causation_id', NULL,
               'payload', jsonb_build_object('employer_code', employer_code, 'business_date', $1::date,
                                             'amount', amount, 'lines', lines))::text, 'UTF8'),
           jsonb_build_object('type', type, 'correlation_id', $10::text)
    FROM events ORDER BY employer_code, type  -- per employer: InterestAssessed, then InterestCorrected
    RETURNING 1
)
INSERT INTO {SCHEMA}.accrual_chunks (business_date, chunk, debts, employers, assessed, corrected)
SELECT $1, $2, (SELECT count(*) FROM updated),
       (SELECT count(DISTINCT employer_code) FROM postings),
       coalesce((SELECT sum(amount) FROM postings WHERE kind = 'assessed'), 0),
       coalesce((SELECT sum(amount) FROM postings WHERE kind = 'corrected'), 0)
RETURNING debts, employers, assessed, corrected
"""


async def accrue_chunk(conn: asyncpg.Connection, business_date: date, chunk: int, chunks: int, rules: tuple,
                       run_id: UUID, occurred_at: str) -> asyncpg.Record:
    """Accrue one chunk of employers up to ``business_date``; call inside the chunk's transaction."""
    return await conn.fetchrow(ACCRUE_CHUNK, business_date, chunk, chunks, *rules, run_id, occurred_at)


async def notify_outbox(conn: asyncpg.Connection) -> None:
    await conn.execute(f"NOTIFY {SCHEMA}_outbox")
