"""Wiring of the arrears service: settings, law, ledger handlers (and the ops side's routes and tasks)."""
from __future__ import annotations

import faust

from ansinh.runtime.service import ServiceRuntime, build_app, consume, run_worker
from services.arrears import operations
from services.arrears.domain.law import load_law
from services.arrears.handlers import Ledger
from services.arrears.settings import ArrearsSettings


def create(settings: ArrearsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or ArrearsSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    law = load_law(settings.law_file)
    ledger = Ledger(lambda: runtime.pool, law)
    # Assessments come at national volume (20 million worker-months a month): a bulk topic.
    consume(app, runtime, "collection.assessments", ledger.handle_assessments, bulk=True)
    consume(app, runtime, "collection.allocations", ledger.handle_allocations)
    operations.wire(app, runtime, law, settings.today)  # workers, interest paid, scheduler, views (ops side)
    return app, runtime


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
