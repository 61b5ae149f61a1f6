"""The daily accrual run: late-payment interest for every open debt up to a business date, set-based.

``run_accrual(pool, business_date)`` is what the scheduler, the CLI and the operator endpoint call.

* **Set-based**: one SQL statement per chunk (``repository.ACCRUE_CHUNK``); employers are split into chunks
  by a hash of their code, so one transaction never holds the whole country and a crash loses one chunk.
* **Catches up**: the statement accrues every day after the previous finished run up to the business date,
  in closed form: 30 missed days cost what one day costs.
* **Writes only what changed**: unchanged unpaid debts are read, not written; what a run charged is in
  ``interest_postings`` and the events (see ``repository.ACCRUE_CHUNK``).
* **Idempotent per date**: a finished date is not run again (its figures are returned); a date before the
  last finished one is refused (the days are already accrued; a late change is corrected by the next run).
* **Crash-safe**: each chunk commits its state, postings, events and its ``accrual_chunks`` row together;
  a rerun of the date skips the chunks that committed and recomputes the rest from the ledger.
* **Backdated changes**: a debt whose principal or payments changed is recomputed from its first day late;
  the difference on days already accrued is an ``InterestCorrected`` event, never a silent overwrite.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timezone
from uuid import uuid4

import asyncpg

from ansinh.runtime import failpoints
from services.arrears import repository as repo
from services.arrears.domain.errors import RunDateRefused
from services.arrears.domain.law import Law, load_law

DEFAULT_CHUNKS = 8
# Named crash points for tests (ANSINH_FAILPOINTS=...): inside a chunk's transaction before it commits, and
# right after a chunk committed (the run is then half done).
FAIL_BEFORE_COMMIT = "arrears.accrual.before_commit"
FAIL_AFTER_CHUNK = "arrears.accrual.after_chunk"


@dataclass(frozen=True)
class RunResult:
    business_date: date
    debts: int          # debts recomputed
    employers: int      # employers with an interest event
    assessed: int       # interest charged for days not charged before (VND)
    corrected: int      # signed change of days charged before (VND)
    chunks_done: int
    already_done: bool  # the date had finished before: nothing was run, figures are the first run's
    seconds: float


def rule_arrays(law: Law) -> tuple[list, list, list, list, list, list]:
    """The law's interest rules as the six arrays the run's SQL unnests."""
    rules = law.interest_rules
    return ([r.id for r in rules], [r.start for r in rules], [r.end for r in rules], [r.num for r in rules],
            [r.den for r in rules], [r.min_days_late for r in rules])


def check_run_date(business_date: date, today: date | None, latest: date | None) -> None:
    if today is not None and business_date > today:
        raise RunDateRefused(f"business date {business_date} is after today ({today}): days not yet over "
                             "cannot be accrued")
    if latest is not None and business_date < latest:
        raise RunDateRefused(f"business date {business_date} is before the last run ({latest}): those days are "
                             "accrued; a change since is corrected by the next run")


# Before any run, every day is new: a date before any due date the tables know.
BEFORE_EVERYTHING = date(1990, 1, 1)


async def run_accrual(pool: asyncpg.Pool, business_date: date, law: Law | None = None, *,
                      today: date | None = None, chunks: int = DEFAULT_CHUNKS) -> RunResult:
    """Accrue interest up to and including ``business_date`` (Asia/Ho_Chi_Minh). See the module docstring.

    A run left unfinished by a crash for an earlier date is finished first: its committed chunks charged its
    days, so the days after it are new only once every chunk did."""
    started = time.monotonic()
    law = law or load_law()
    async with pool.acquire() as conn:
        # One run at a time, from the date check to the end: a run for a later date recorded between another
        # run's check and its start made that one charge its days a second time (the later run had charged them).
        await conn.execute(_RUN_LOCK)
        try:
            row = await repo.run_row(conn, business_date)
            if row is not None and row["finished_at"] is not None:
                return _result(business_date, await repo.run_totals(conn, business_date), True, started)
            check_run_date(business_date, today, await repo.latest_run(conn))
            for earlier in await repo.unfinished_before(conn, business_date):
                await _run(conn, earlier, law, chunks)
            totals = await _run(conn, business_date, law, chunks)
        finally:
            await conn.execute(_RUN_UNLOCK)
    return _result(business_date, totals, False, started)


# A session lock (released by the server if the process dies), not one transaction: the chunks commit one by one.
_RUN_LOCK = "SELECT pg_advisory_lock(hashtext('arrears.accrual_run'))"
_RUN_UNLOCK = "SELECT pg_advisory_unlock(hashtext('arrears.accrual_run'))"


async def _run(conn: asyncpg.Connection, business_date: date, law: Law, chunks: int):
    rules = rule_arrays(law)
    run = await repo.start_run(conn, business_date, uuid4(), chunks, await repo.finished_before(conn, business_date))
    # A rerun keeps the first attempt's chunking and previous date: the chunks that committed are exactly those
    # skipped, and the others charge the same days.
    previous = run["previous_date"]
    for chunk in range(run["chunks"]):
        async with conn.transaction():
            await repo.own_ledger(conn)
            if await repo.chunk_done(conn, business_date, chunk):
                continue
            await conn.execute("SET LOCAL work_mem = '256MB'")
            await repo.accrue_chunk(conn, business_date, chunk, run["chunks"], rules, run["run_id"],
                                    datetime.now(timezone.utc).isoformat(), previous or BEFORE_EVERYTHING)
            await repo.notify_outbox(conn)
            failpoints.hit(FAIL_BEFORE_COMMIT)
        failpoints.hit(FAIL_AFTER_CHUNK)
    return await repo.finish_run(conn, business_date)


def _result(business_date: date, totals, already_done: bool, started: float) -> RunResult:
    return RunResult(business_date, int(totals["debts"]), int(totals["employers"]), int(totals["assessed"]),
                     int(totals["corrected"]), int(totals["chunks_done"]), already_done,
                     round(time.monotonic() - started, 3))
