"""Workers keep their rights when their employer is late, and must be told.

Two halves:

* ``DeclaredWorkers.handle``: a consumer of ``collection.assessments`` of its own (inbox consumer
  ``arrears-workers``, Kafka group ``<app id>.workers.collection.assessments``) records which workers each
  employer declared for each month, and which declarations were flagged as under-declared. One upsert per
  batch (``unnest`` of arrays, grouped), whatever order the events arrive in.
* ``notify_unpaid_workers``: in the daily run, after ``status.detect_status_changes``, every worker of a
  period announced overdue and not cleared whose month was not named before gets one
  ``WorkerContributionsUnpaid`` per employer naming the newly unpaid months: one UPDATE ... RETURNING feeding
  one INSERT into the outbox, no Python loop over workers.
"""
from __future__ import annotations

from datetime import date
from typing import Callable, Sequence
from uuid import UUID

import asyncpg

from ansinh.runtime import inbox
from ansinh.runtime.decoding import Incoming
from schemas.arrears import WorkerContributionsUnpaid
from schemas.collection import ContributionAdjusted, ContributionAssessed, UnderDeclarationFlagged
from services.arrears import metrics
from services.arrears.sql_events import outbox_insert, period_text

CONSUMER = "arrears-workers"
SCHEMA = "arrears"


def first_day(period: str) -> date:
    """``YYYY-MM`` (already validated by the contract) as the month's first day."""
    return date(int(period[:4]), int(period[5:7]), 1)


def rows_of(batch: Sequence[Incoming], new: set[UUID]) -> list[tuple[str, date, str, int, int | None]]:
    """(employer, month, worker, revision seen, revision flagged) of each newly claimed event we use."""
    rows = []
    for item in batch:
        m = item.message
        if item.envelope.event_id not in new:
            continue
        if isinstance(m, (ContributionAssessed, ContributionAdjusted)):
            rows.append((m.employer_code, first_day(m.period), m.worker_code, m.revision, None))
        elif isinstance(m, UnderDeclarationFlagged):
            rows.append((m.employer_code, first_day(m.period), m.worker_code, -1, m.revision))
    return rows


# GROUP BY first: ON CONFLICT DO UPDATE may not touch one row twice in a statement. GREATEST ignores NULLs.
UPSERT = f"""
    INSERT INTO {SCHEMA}.declared_workers (employer_code, period, worker_code, revision, flagged_revision)
    SELECT e, p, w, max(r), max(f)
    FROM unnest($1::text[], $2::date[], $3::text[], $4::int[], $5::int[]) AS t(e, p, w, r, f)
    GROUP BY e, p, w
    ORDER BY e, p, w
    ON CONFLICT (employer_code, period, worker_code) DO UPDATE
    SET revision = GREATEST(declared_workers.revision, EXCLUDED.revision),
        flagged_revision = GREATEST(declared_workers.flagged_revision, EXCLUDED.flagged_revision)"""


class DeclaredWorkers:
    """The handler of the workers' consumer of ``collection.assessments``."""

    def __init__(self, pool_of: Callable[[], asyncpg.Pool]):
        self.pool_of = pool_of

    async def handle(self, batch: Sequence[Incoming]) -> None:
        async with self.pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, SCHEMA, CONSUMER, [i.envelope.event_id for i in batch],
                                    [i.digest for i in batch])
            rows = rows_of(batch, new)
            if rows:
                await conn.execute(UPSERT, *map(list, zip(*rows)))
        metrics.WORKERS_RECORDED.inc(len(rows))


# Periods announced overdue and not cleared, whose workers were not told yet: mark them told and group the
# months per worker and employer, oldest first.
_TOLD = f"""
    told AS (
        UPDATE {SCHEMA}.declared_workers w SET notified_on = $1
        FROM {SCHEMA}.period_status s
        WHERE s.employer_code = w.employer_code AND s.period = w.period
          AND s.overdue_on IS NOT NULL AND s.cleared_on IS NULL AND w.notified_on IS NULL
        RETURNING w.employer_code, w.worker_code, w.period
    )"""
_NOTICES = f"""
    SELECT employer_code AS key, '{WorkerContributionsUnpaid.event_type}' AS type,
           jsonb_build_object('worker_code', worker_code, 'employer_code', employer_code,
                              'periods', array_agg({period_text('period')} ORDER BY period),
                              'as_of', $1::date) AS payload
    FROM told GROUP BY employer_code, worker_code"""


async def notify_unpaid_workers(conn: asyncpg.Connection, business_date: date, correlation_id: UUID) -> int:
    """Emit the workers' notices for ``business_date``; returns how many events went to the outbox.

    Call inside the run's transaction, after ``status.detect_status_changes`` (which opens the periods).
    """
    rows = await conn.fetch(outbox_insert(SCHEMA, _TOLD, _NOTICES, "$2"), business_date, correlation_id)
    if rows:
        await conn.execute(f"NOTIFY {SCHEMA}_outbox")
    return len(rows)
