"""Wiring of the collection service: settings, law, handlers, agents and HTTP views, created at start-up."""
from __future__ import annotations

import logging

import faust

from ansinh.runtime.service import ServiceRuntime, build_app, consume, run_worker
from services.collection import api, metrics
from services.collection.domain.law import load_law
from services.collection.handlers import Collection
from services.collection.interest import InterestObligations
from services.collection.settings import CollectionSettings

log = logging.getLogger("services.collection")


def create(settings: CollectionSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or CollectionSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    handlers = Collection(lambda: runtime.pool, load_law(settings.law_file), settings.today)
    # 20 million a month: a bulk topic (see ansinh/bulk.py).
    consume(app, runtime, "collection.declarations", handlers.apply_declarations, bulk=True,
            prepare=handlers.prepare_declarations,
            on_undecodable=lambda e: metrics.DECLARATIONS_REJECTED.labels(e.code).inc())
    consume(app, runtime, "collection.remittances", handlers.handle_remittances)
    # Late-payment interest from arrears, payable as obligations of fund "interest" (services/collection/interest.py).
    consume(app, runtime, "arrears.events", InterestObligations(lambda: runtime.pool, handlers).handle)
    api.build(runtime, handlers).mount(app)

    @app.task
    async def money_gauges():
        # Credit and suspense gauges are refreshed by the transactions that change them; once at start-up too,
        # so a restarted service does not report 0 until the next payment.
        await runtime.ready.wait()
        try:
            async with runtime.pool.acquire() as conn:
                await handlers.refresh_gauges(conn)
        except Exception:  # noqa: BLE001 - a gauge is not worth a crash; the next payment refreshes it
            log.warning("could not read the credit and suspense totals at start-up", exc_info=True)
    return app, runtime


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
