"""Wiring of the payments service: settings, runtime and faust app, created at start-up only."""
from __future__ import annotations

import faust

from ansinh.parking import park_events
from ansinh.service import ServiceRuntime, build_app, consume, run_worker
from services.payments.settings import PaymentsSettings


def create(settings: PaymentsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or PaymentsSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    # Skeleton: the inputs are consumed and parked until this service's issue implements them.
    for topic in ['benefits.awards', 'payments.bank-status', 'payments.cash-status']:
        consume(app, runtime, topic, park_events(lambda: runtime.pool, settings.schema, "payments", topic))
    return app, runtime


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
