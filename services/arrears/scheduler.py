"""The daily run, and the scheduler that starts it inside the service.

``run_day(pool, business_date, trigger)`` is the one entry point for the scheduler, the operator endpoint and
the CLI (through the endpoint): core's accrual run (``accrual.run_accrual``: chunked, idempotent, catches up
missed days, crash-safe), then, in one transaction, the status events (``status.detect_status_changes``),
the workers' notices (``workers.notify_unpaid_workers``) and the ``runs`` row. A crash between the two halves
leaves the date without its ``runs`` row: the next call re-runs it (the accrual returns its figures, the
detection emits what it had not).

The scheduler wakes every ``poll_s``; once the local time (Asia/Ho_Chi_Minh) has passed ``run_at``, the
business date ``lag_days`` before today is due. If the latest finished date is older (the service was down,
or the run failed), it runs the due date: core's run accrues every missed day in one go. The clock can be
fixed (``ANSINH_ARREARS_CLOCK``), which is how the tests move time instead of waiting a day.
"""
from __future__ import annotations

import asyncio
import logging
import time as monotonic
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from pydantic import AwareDatetime
from pydantic_settings import BaseSettings, SettingsConfigDict

from ansinh.runtime import failpoints
from services.arrears import metrics
from services.arrears.domain.errors import ArrearsError
from services.arrears.status import detect_status_changes, load_evasion_rules
from services.arrears.workers import notify_unpaid_workers

log = logging.getLogger("services.arrears.scheduler")
# Named crash points for tests (ANSINH_FAILPOINTS=...): after the accrual run, and inside the detection's
# transaction before it commits.
FAIL_AFTER_ACCRUAL = "arrears.run_day.after_accrual"
FAIL_BEFORE_COMMIT = "arrears.run_day.before_commit"
BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SCHEMA = "arrears"


class SchedulerSettings(BaseSettings):
    """``ANSINH_ARREARS_*``: when the daily run starts, and for which business date."""

    model_config = SettingsConfigDict(env_prefix="ANSINH_ARREARS_", extra="ignore")

    schedule: bool = True          # false: only operators start runs (HTTP, CLI)
    run_at: time = time(1, 0)      # local time (Asia/Ho_Chi_Minh) the run starts
    lag_days: int = 1              # business date = today - lag_days (01:00 runs the day that just ended)
    poll_s: float = 30.0           # how often the scheduler looks at the clock
    retry_s: float = 60.0          # wait after a failed run before trying again
    clock: AwareDatetime | None = None  # a fixed "now" (tests, replays); None: the real clock


def due_business_date(now: datetime, run_at: time, lag_days: int) -> date:
    """The latest business date whose run time has come at ``now``."""
    local = now.astimezone(BUSINESS_TZ)
    today = local.date() - timedelta(days=lag_days)
    return today if local.time() >= run_at else today - timedelta(days=1)


def local_midnight(day: date) -> float:
    """Unix time of ``day`` at 00:00 in Asia/Ho_Chi_Minh (the metric the run-late alert compares with time())."""
    return datetime.combine(day, time(0), BUSINESS_TZ).timestamp()


@dataclass(frozen=True)
class DayRun:
    """What one daily run did."""

    business_date: date
    trigger: str
    accrual: object            # core's RunResult
    status_events: dict[str, int]
    worker_notices: int
    seconds: float

    def as_json(self) -> dict:
        a = self.accrual
        return {"business_date": self.business_date.isoformat(), "trigger": self.trigger,
                "accrual": {"debts": a.debts, "employers": a.employers, "assessed_vnd": a.assessed,
                            "corrected_vnd": a.corrected, "chunks_done": a.chunks_done,
                            "already_done": a.already_done, "seconds": a.seconds},
                "status_events": self.status_events, "worker_notices": self.worker_notices,
                "seconds": self.seconds}


async def run_day(pool: asyncpg.Pool, business_date: date, trigger: str, *, law=None, today: date | None = None,
                  chunks: int | None = None, rules=None) -> DayRun:
    """Accrue, then detect and notify, for ``business_date``; metrics are updated after the commit."""
    from services.arrears.accrual import DEFAULT_CHUNKS, run_accrual  # core's module

    started, started_at = monotonic.monotonic(), datetime.now(BUSINESS_TZ)
    try:
        accrual = await run_accrual(pool, business_date, law, today=today, chunks=chunks or DEFAULT_CHUNKS)
        failpoints.hit(FAIL_AFTER_ACCRUAL)
        async with pool.acquire() as conn, conn.transaction():
            run_id = await conn.fetchval(f"SELECT run_id FROM {SCHEMA}.accrual_runs WHERE business_date = $1",
                                         business_date)
            changes = await detect_status_changes(conn, business_date, correlation_id=run_id,
                                                  rules=rules or load_evasion_rules())
            notices = await notify_unpaid_workers(conn, business_date, changes.correlation_id)
            await conn.execute(f"""
                INSERT INTO {SCHEMA}.runs (business_date, trigger, started_at, accrual_rows, status_events,
                                           worker_notices)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (business_date) DO UPDATE SET trigger = EXCLUDED.trigger, finished_at = now(),
                    status_events = runs.status_events + EXCLUDED.status_events,
                    worker_notices = runs.worker_notices + EXCLUDED.worker_notices, runs = runs.runs + 1""",
                               business_date, trigger, started_at, accrual.debts, changes.total, notices)
            latest = await last_run_date(conn)
            failpoints.hit(FAIL_BEFORE_COMMIT)
    except ArrearsError:
        raise  # a refused request (a date before the last run, in the future): the operator's, not a failed run
    except Exception:
        metrics.RUN_FAILURES.inc()
        raise
    seconds = round(monotonic.monotonic() - started, 3)
    _count(trigger, accrual, changes.events, notices, seconds)
    metrics.LAST_RUN_DATE.set(local_midnight(latest))
    return DayRun(business_date, trigger, accrual, changes.events, notices, seconds)


def _count(trigger: str, accrual, events: dict[str, int], notices: int, seconds: float) -> None:
    metrics.RUN_SECONDS.labels(trigger).observe(seconds)
    if not accrual.already_done:
        metrics.RUN_ROWS.labels("accrual").inc(accrual.debts)
    metrics.RUN_ROWS.labels("status_events").inc(sum(events.values()))
    metrics.RUN_ROWS.labels("worker_notices").inc(notices)
    for name, n in events.items():
        metrics.STATUS_EVENTS.labels(name.split(":")[0]).inc(n)
    metrics.STATUS_EVENTS.labels("WorkerContributionsUnpaid").inc(notices)


async def last_run_date(conn: asyncpg.Connection) -> date | None:
    return await conn.fetchval(f"SELECT max(business_date) FROM {SCHEMA}.runs")


class Scheduler:
    """Runs the due business date whenever the latest finished one is older (see the module docstring)."""

    def __init__(self, pool_of, settings: SchedulerSettings, run=run_day, on_run=None):
        self.pool_of, self.settings, self.run, self.on_run = pool_of, settings, run, on_run

    def now(self) -> datetime:
        return self.settings.clock or datetime.now(BUSINESS_TZ)

    async def tick(self) -> DayRun | None:
        """One look at the clock: run the due date if it is not done yet; returns what ran."""
        due = due_business_date(self.now(), self.settings.run_at, self.settings.lag_days)
        async with self.pool_of().acquire() as conn:
            last = await last_run_date(conn)
        if last is not None:
            metrics.LAST_RUN_DATE.set(local_midnight(last))
        if last is not None and last >= due:
            return None
        log.info("daily run for %s (last finished: %s)", due, last or "none")
        done = await self.run(self.pool_of(), due, "scheduler", today=self.now().astimezone(BUSINESS_TZ).date())
        if self.on_run is not None:
            await self.on_run(done)
        return done

    async def run_forever(self, stopping: asyncio.Event | None = None) -> None:
        stopping = stopping or asyncio.Event()
        while not stopping.is_set():
            wait = self.settings.poll_s
            try:
                await self.tick()
            except Exception:  # noqa: BLE001 - the scheduler must outlive a failed run; the alert watches the date
                log.exception("daily run failed; retrying in %ss", self.settings.retry_s)
                wait = self.settings.retry_s
            try:
                await asyncio.wait_for(stopping.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass
