"""Status of each employer and period, detected set-based by the daily run: overdue, cleared, suspected evasion.

``detect_status_changes(conn, business_date)`` runs four statements in the caller's transaction, each an
``INSERT``/``UPDATE`` of ``period_status`` whose ``RETURNING`` feeds one ``INSERT`` into the outbox:

1. ``EmployerOverdue``: principal of a period unpaid after its due date (payments with a value date up to the
   business date count), first time only;
2. ``ArrearsCleared``: a period announced overdue whose unpaid principal is now 0 (a backdated payment can
   show it was paid on time after all: ``days_late`` 0);
3. ``EvasionSuspected(unpaid_60_days)``: still unpaid ``unpaid_days`` after the due date;
4. ``EvasionSuspected(under_declaration)``: a worker's latest declaration for the period is still flagged
   as below the floor ``under_declaration_days`` after the due date.

Each event goes out once per employer and period (the date columns of ``period_status`` are set once and
never cleared). The day counts are effective-dated data (``evasion.json``), by the period's due date.
The ledger (``debts``, ``payment_lines``) is core's (migration 0001); this module only reads it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg

from schemas.arrears import ArrearsCleared, EmployerOverdue, EvasionSuspected
from services.arrears.sql_events import outbox_insert, period_text

SCHEMA = "arrears"
DEFAULT_EVASION_RULES = Path(__file__).resolve().parent / "evasion.json"
# Two runs for the same date at once (scheduler and operator) take turns: each event stays single.
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('arrears.detect_status_changes'))"


@dataclass(frozen=True)
class EvasionRule:
    """From this due date on, a period is suspected evasion this many days after its due date."""

    from_due_date: date
    unpaid_days: int
    under_declaration_days: int
    verify: bool = False


def load_evasion_rules(path: Path | str = DEFAULT_EVASION_RULES) -> tuple[EvasionRule, ...]:
    raw = json.loads(Path(path).read_text())["evasion_rules"]
    rules = tuple(sorted((EvasionRule(date.fromisoformat(r["from_due_date"]), int(r["unpaid_days"]),
                                      int(r["under_declaration_days"]), bool(r.get("verify", False)))
                          for r in raw), key=lambda r: r.from_due_date))
    if not rules or any(r.unpaid_days < 1 or r.under_declaration_days < 1 for r in rules):
        raise ValueError("evasion rules: at least one row, day counts of 1 or more")
    return rules


@dataclass
class StatusChanges:
    """What one detection emitted, by event type (and the evasion reason)."""

    business_date: date
    correlation_id: UUID
    events: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.events.values())


def unpaid_as_of(d: str = "d", day: str = "$1") -> str:
    """SQL: the unpaid principal of debt row ``d`` on ``day``, counting payment lines with a value date up to it.

    ``paid`` already holds every line; only a debt with a payment after ``day`` (a run for a past date) needs
    its lines summed.
    """
    return f"""greatest({d}.principal - CASE WHEN {d}.last_value_date IS NULL OR {d}.last_value_date <= {day}
        THEN {d}.paid ELSE (SELECT coalesce(sum(l.amount), 0) FROM {SCHEMA}.payment_lines l
                            WHERE l.employer_code = {d}.employer_code AND l.period = {d}.period
                              AND l.fund = {d}.fund AND l.value_date <= {day}) END, 0)"""


def last_payment_as_of(d: str = "d", day: str = "$1") -> str:
    """SQL: the latest value date of a payment line of debt ``d`` up to ``day`` (NULL: none)."""
    return f"""CASE WHEN {d}.last_value_date IS NULL OR {d}.last_value_date <= {day} THEN {d}.last_value_date
        ELSE (SELECT max(l.value_date) FROM {SCHEMA}.payment_lines l
              WHERE l.employer_code = {d}.employer_code AND l.period = {d}.period AND l.fund = {d}.fund
                AND l.value_date <= {day}) END"""


# The day count of the rule in force on a due date ($3: rule start dates, $4/$5: unpaid/under-declaration days).
def _days(due: str, which: str) -> str:
    column = {"unpaid": "u", "declared": "w"}[which]
    return f"""(SELECT r.{column} FROM unnest($3::date[], $4::int[], $5::int[]) AS r(since, u, w)
               WHERE r.since <= {due} ORDER BY r.since DESC LIMIT 1)"""


# 1. Overdue: candidates are debts unpaid today or paid after the business date (core's partial index
# debts_to_accrue covers "principal > paid"), of periods not announced yet: an announced period is skipped
# before any sum (else every night would re-check, and row-lock through ON CONFLICT, every overdue period).
_OVERDUE_CTES = f"""
    unpaid AS (
        SELECT d.employer_code, d.period, min(d.due_date) AS due_date, sum({unpaid_as_of()}) AS unpaid
        FROM {SCHEMA}.debts d
        WHERE d.due_date IS NOT NULL AND d.due_date < $1 AND (d.principal > d.paid OR d.last_value_date > $1)
          AND NOT EXISTS (SELECT 1 FROM {SCHEMA}.period_status s WHERE s.employer_code = d.employer_code
                          AND s.period = d.period AND s.overdue_on IS NOT NULL)
        GROUP BY d.employer_code, d.period
        HAVING sum({unpaid_as_of()}) > 0
    ),
    opened AS (
        INSERT INTO {SCHEMA}.period_status (employer_code, period, due_date, overdue_on)
        SELECT employer_code, period, due_date, $1 FROM unpaid
        ON CONFLICT (employer_code, period) DO UPDATE SET overdue_on = EXCLUDED.overdue_on,
                                                          due_date = EXCLUDED.due_date
        WHERE period_status.overdue_on IS NULL
        RETURNING employer_code, period, due_date
    )"""
_OVERDUE = f"""
    SELECT o.employer_code AS key, '{EmployerOverdue.event_type}' AS type,
           jsonb_build_object('employer_code', o.employer_code, 'period', {period_text('o.period')},
                              'due_date', o.due_date, 'first_day_late', o.due_date + 1,
                              'unpaid_principal', u.unpaid, 'as_of', $1::date) AS payload
    FROM opened o JOIN unpaid u USING (employer_code, period)"""

# 2. Cleared: periods announced overdue and not cleared, whose unpaid principal is 0 on the business date.
_CLEARED_CTES = f"""
    figures AS (
        SELECT s.employer_code, s.period, s.due_date, sum({unpaid_as_of()}) AS unpaid,
               max({last_payment_as_of()}) AS paid_up_on
        FROM {SCHEMA}.period_status s
        JOIN {SCHEMA}.debts d ON d.employer_code = s.employer_code AND d.period = s.period
        WHERE s.overdue_on IS NOT NULL AND s.cleared_on IS NULL
        GROUP BY s.employer_code, s.period, s.due_date
    ),
    closed AS (
        UPDATE {SCHEMA}.period_status s SET cleared_on = $1
        FROM figures f
        WHERE s.employer_code = f.employer_code AND s.period = f.period AND f.unpaid = 0 AND s.cleared_on IS NULL
        RETURNING s.employer_code, s.period, s.due_date, coalesce(f.paid_up_on, $1::date) AS paid_up_on
    )"""
_CLEARED = f"""
    SELECT employer_code AS key, '{ArrearsCleared.event_type}' AS type,
           jsonb_build_object('employer_code', employer_code, 'period', {period_text('period')},
                              'due_date', due_date, 'paid_up_on', paid_up_on,
                              'days_late', greatest(paid_up_on - due_date, 0), 'as_of', $1::date) AS payload
    FROM closed"""

# Workers of a period whose latest declaration is still flagged as under-declared.
_UNRESOLVED_FLAGS = f"""
    SELECT w.employer_code, w.period, count(*) AS workers
    FROM {SCHEMA}.declared_workers w
    WHERE w.flagged_revision IS NOT NULL AND w.flagged_revision >= w.revision
    GROUP BY w.employer_code, w.period"""

# 3. Evasion, unpaid: open periods unpaid_days after their due date (still unpaid: step 2 ran first).
_EVASION_UNPAID_CTES = f"""
    due AS (
        SELECT s.employer_code, s.period, s.due_date FROM {SCHEMA}.period_status s
        WHERE s.overdue_on IS NOT NULL AND s.cleared_on IS NULL AND s.evasion_unpaid_on IS NULL
          AND $1 >= s.due_date + {_days('s.due_date', 'unpaid')}
    ),
    figures AS (
        SELECT e.employer_code, e.period, e.due_date, sum({unpaid_as_of()}) AS unpaid
        FROM due e JOIN {SCHEMA}.debts d ON d.employer_code = e.employer_code AND d.period = e.period
        GROUP BY e.employer_code, e.period, e.due_date
        HAVING sum({unpaid_as_of()}) > 0
    ),
    flagged AS (
        UPDATE {SCHEMA}.period_status s SET evasion_unpaid_on = $1
        FROM figures f WHERE s.employer_code = f.employer_code AND s.period = f.period
        RETURNING s.employer_code, s.period, s.due_date, f.unpaid
    ),
    flags AS ({_UNRESOLVED_FLAGS})"""
_EVASION_UNPAID = f"""
    SELECT f.employer_code AS key, '{EvasionSuspected.event_type}' AS type,
           jsonb_build_object('employer_code', f.employer_code, 'period', {period_text('f.period')},
                              'reason', 'unpaid_60_days', 'due_date', f.due_date, 'unpaid_principal', f.unpaid,
                              'under_declared_workers', coalesce(w.workers, 0), 'as_of', $1::date) AS payload
    FROM flagged f LEFT JOIN flags w ON w.employer_code = f.employer_code AND w.period = f.period"""

# 4. Evasion, under-declaration: flags unresolved under_declaration_days after the period's due date.
_EVASION_DECLARED_CTES = f"""
    flags AS ({_UNRESOLVED_FLAGS}),
    due AS (
        SELECT f.employer_code, f.period, f.workers, p.due_date, p.unpaid
        FROM flags f
        JOIN LATERAL (SELECT min(d.due_date) AS due_date, sum({unpaid_as_of()}) AS unpaid FROM {SCHEMA}.debts d
                      WHERE d.employer_code = f.employer_code AND d.period = f.period AND d.due_date IS NOT NULL
                     ) p ON p.due_date IS NOT NULL
        LEFT JOIN {SCHEMA}.period_status s ON s.employer_code = f.employer_code AND s.period = f.period
        WHERE s.evasion_declared_on IS NULL AND $1 >= p.due_date + {_days('p.due_date', 'declared')}
    ),
    marked AS (
        INSERT INTO {SCHEMA}.period_status (employer_code, period, due_date, evasion_declared_on)
        SELECT employer_code, period, due_date, $1 FROM due
        ON CONFLICT (employer_code, period) DO UPDATE SET evasion_declared_on = EXCLUDED.evasion_declared_on
        WHERE period_status.evasion_declared_on IS NULL
        RETURNING employer_code, period
    )"""
_EVASION_DECLARED = f"""
    SELECT e.employer_code AS key, '{EvasionSuspected.event_type}' AS type,
           jsonb_build_object('employer_code', e.employer_code, 'period', {period_text('e.period')},
                              'reason', 'under_declaration', 'due_date', e.due_date, 'unpaid_principal', e.unpaid,
                              'under_declared_workers', e.workers, 'as_of', $1::date) AS payload
    FROM marked m JOIN due e ON e.employer_code = m.employer_code AND e.period = m.period"""

STEPS = (("EmployerOverdue", _OVERDUE_CTES, _OVERDUE),
         ("ArrearsCleared", _CLEARED_CTES, _CLEARED),
         ("EvasionSuspected:unpaid_60_days", _EVASION_UNPAID_CTES, _EVASION_UNPAID),
         ("EvasionSuspected:under_declaration", _EVASION_DECLARED_CTES, _EVASION_DECLARED))


async def detect_status_changes(conn: asyncpg.Connection, business_date: date, *,
                                correlation_id: UUID | None = None,
                                rules: tuple[EvasionRule, ...] | None = None) -> StatusChanges:
    """Emit the status events ``business_date`` brings; call inside a transaction (after the accrual run).

    The correlation id defaults to the accrual run's id for that date, so a run's events share one.
    """
    if not conn.is_in_transaction():
        raise RuntimeError("detect_status_changes must run inside the caller's transaction")
    rules = rules or load_evasion_rules()
    await conn.execute(_LOCK)
    # Grouping a national day's events sorts millions of rows: in memory, not on disk (measured with
    # bench/arrears_status.py; JIT compilation cost more than it saved on these statements).
    await conn.execute("SET LOCAL work_mem = '256MB'; SET LOCAL jit = off")
    if correlation_id is None:
        correlation_id = await conn.fetchval(f"SELECT run_id FROM {SCHEMA}.accrual_runs WHERE business_date = $1",
                                             business_date) or uuid4()
    params = ([r.from_due_date for r in rules], [r.unpaid_days for r in rules],
              [r.under_declaration_days for r in rules])
    changes = StatusChanges(business_date, correlation_id)
    for name, ctes, select in STEPS:
        sql = outbox_insert(SCHEMA, ctes, select, "$2")
        # Every statement gets the same parameters ($3-$5 only where a day count is looked up).
        args = (business_date, correlation_id, *params) if "$3" in sql else (business_date, correlation_id)
        rows = await conn.fetch(sql, *args)
        changes.events[name] = len(rows)
    if changes.total:
        await conn.execute(f"NOTIFY {SCHEMA}_outbox")
    return changes
