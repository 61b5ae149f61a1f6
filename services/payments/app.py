"""Wiring of the payments service: settings, calendar, handlers, agents, background runs and HTTP views."""
from __future__ import annotations

import asyncio
import logging
from datetime import date

import faust

from ansinh.runtime import auth
from ansinh.runtime.service import ServiceRuntime, build_app, consume, run_worker
from services.payments import http, status
from services.payments.domain.calendar import load_calendar
from services.payments.domain.model import next_period, period_text
from services.payments.handlers import Awards
from services.payments.runs import RunSettings, Runs
from services.payments.settings import PaymentsSettings

log = logging.getLogger("services.payments")
SCHEDULE = auth.Principal("schedule", frozenset())
SCHEDULE_CHECK_S = 60


class RunTasks:
    """Preparations and sending run in the background, one task per (phase, period) in this process."""

    def __init__(self, runs: Runs):
        self.runs, self.tasks = runs, {}

    def prepare(self, principal: auth.Principal, period: date) -> None:
        self._start(("prepare", period), lambda: self.runs.continue_preparation(principal, period))

    def send(self, period: date) -> None:
        self._start(("send", period), lambda: self.runs.send(period))

    def _start(self, key, work) -> None:
        if key in self.tasks and not self.tasks[key].done():
            return  # already running here; the run's cursor lets a second one anywhere else do no harm either
        self.tasks[key] = asyncio.create_task(self._guarded(key, work), name=f"run-{key[0]}-{key[1]}")

    @staticmethod
    async def _guarded(key, work) -> None:
        try:
            await work()
        except Exception:  # noqa: BLE001 - logged; the run stays resumable (prepare again / restart sends)
            log.exception("the %s of the run of %s stopped; it resumes from its cursor when started again",
                          key[0], period_text(key[1]))


def create(settings: PaymentsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or PaymentsSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    awards = Awards(lambda: runtime.pool)
    consume(app, runtime, "benefits.awards", awards.handle_awards)
    status.attach(app, runtime, settings)  # bank side: payments.bank-status, payments.cash-status, retries
    runs = Runs(lambda: runtime.pool, load_calendar(settings.calendar_file),
                RunSettings(settings.run_chunk, settings.payment_point_prefixes, settings.debtor()))
    tasks = RunTasks(runs)
    http.service_api(runtime, runs, tasks).mount(app)  # runs, history; the bank side's reconciliation, batches, flags

    @app.task
    async def resume_sending():
        # An approved run whose sending a crash or a restart interrupted goes on from its cursor.
        await runtime.ready.wait()
        for period in await _unsent(runtime):
            tasks.send(period)

    @app.task
    async def schedule():
        await runtime.ready.wait()
        while settings.prepare_on_day:
            await _prepare_on_schedule(runtime, runs, tasks, settings)
            await asyncio.sleep(SCHEDULE_CHECK_S)
    return app, runtime


async def _unsent(runtime: ServiceRuntime) -> list[date]:
    from services.payments import repository as repo
    async with runtime.pool.acquire() as conn:
        return await repo.runs_to_send(conn)


async def _prepare_on_schedule(runtime, runs: Runs, tasks: RunTasks, settings: PaymentsSettings) -> None:
    """On the configured day, prepare next month's run once (it still needs an operator's approval)."""
    from services.payments import repository as repo
    today = settings.today()
    if today.day < settings.prepare_on_day:
        return
    period = next_period(today.replace(day=1))
    try:
        async with runtime.pool.acquire() as conn:
            if await repo.run(conn, period) is not None:
                return
        await runs.start_preparation(SCHEDULE, period, f"scheduled on day {settings.prepare_on_day}")
        tasks.prepare(SCHEDULE, period)
    except Exception:  # noqa: BLE001 - tried again at the next check
        log.exception("scheduled preparation of %s failed", period_text(period))


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
