"""Wiring of arrears' operations side (called from ``app.create``): the workers' and interest consumers, the
scheduler, the gauges, and the HTTP views.

The two extra consumers read topics core's handlers read too, each in a Kafka group of its own
(``<app id>.workers.collection.assessments``, ``<app id>.interest.collection.allocations``) and with an inbox
consumer name of its own, so their offsets, failures and speed are independent of the ledger's. A message
neither can decode is dead-lettered by each group that reads it (the ``dlq.service`` header says arrears for
both; a replay is deduplicated by every inbox).
"""
from __future__ import annotations

import functools
import logging

import faust

from ansinh.runtime.bulk import BulkSource
from ansinh.runtime.service import ServiceRuntime
from services.arrears import http, metrics, reports
from services.arrears.interest_paid import InterestPaid
from services.arrears.scheduler import Scheduler, SchedulerSettings, last_run_date, run_day
from services.arrears.status import load_evasion_rules
from services.arrears.workers import DeclaredWorkers

log = logging.getLogger("services.arrears.operations")


def wire(app: faust.App, runtime: ServiceRuntime, law, today) -> None:
    settings = runtime.settings
    workers = DeclaredWorkers(lambda: runtime.pool)
    _own_group(app, runtime, "collection.assessments", "workers", workers.handle)
    interest = InterestPaid(lambda: runtime.pool)
    _own_group(app, runtime, "collection.allocations", "interest", interest.handle)

    rules = load_evasion_rules()
    daily = functools.partial(run_day, law=law, rules=rules, chunks=getattr(settings, "accrual_chunks", None))

    async def after_run(_done) -> None:
        await refresh_gauges(runtime)

    async def run_and_refresh(pool, business_date, trigger, **kw):
        done = await daily(pool, business_date, trigger, **kw)
        await after_run(done)
        return done

    schedule = SchedulerSettings()
    scheduler = Scheduler(lambda: runtime.pool, schedule, run=run_and_refresh)
    http.build(runtime, law, today, run_and_refresh).mount(app)

    @app.task
    async def arrears_scheduler():
        await runtime.ready.wait()
        try:
            await refresh_gauges(runtime)
        except Exception:  # noqa: BLE001 - a gauge is not worth a crash; the next run refreshes it
            log.warning("could not read the arrears figures at start-up", exc_info=True)
        if scheduled(schedule, settings):
            await scheduler.run_forever()  # cancelled with the app's tasks at shutdown


def scheduled(schedule: SchedulerSettings, settings) -> bool:
    """Whether the scheduler runs. A fixed business date (ANSINH_BUSINESS_DATE: replays, tests) means operators
    drive the runs, unless a fixed clock (ANSINH_ARREARS_CLOCK) says when "now" is."""
    if not schedule.schedule:
        return False
    return schedule.clock is not None or getattr(settings, "business_date", None) is None


def _own_group(app, runtime: ServiceRuntime, topic: str, name: str, handler) -> None:
    """A consumer of ``topic`` in its own group, beside core's consumer of the same topic: a bulk source (a
    faust agent would join the app's group and split the partitions with core's agent)."""
    group = f"{runtime.settings.app_id}.{name}.{topic}"
    core_group = runtime.consumed_topics.get(topic)
    batch_consumer = runtime.batch_consumer(topic, handler, group)
    if core_group is not None:  # the lag gauge keeps watching the ledger's consumer, the one that matters
        runtime.consumed_topics[topic] = core_group
    app.add_dependency(BulkSource(runtime, topic, group, batch_consumer))


async def refresh_gauges(runtime: ServiceRuntime) -> None:
    """Overdue principal and employers, interest accrued and the ratio, as of the latest run's date."""
    async with runtime.pool.acquire() as conn:
        as_of = await last_run_date(conn)
        if as_of is None:
            return
        figures = await reports.gauge_figures(conn, as_of)
    metrics.OVERDUE_PRINCIPAL.set(figures["overdue_principal"])
    metrics.OVERDUE_EMPLOYERS.set(figures["overdue_employers"])
    metrics.INTEREST_ACCRUED.set(figures["interest_accrued"])
    metrics.LATE_PAYMENT_RATIO.set(figures["ratio"])

