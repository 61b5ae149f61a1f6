"""Wiring of the collection service: settings, runtime and faust app, created at start-up only."""
from __future__ import annotations

import faust

from ansinh.parking import park_events
from ansinh.service import ServiceRuntime, build_app, consume, run_worker
from services.collection.settings import CollectionSettings


def create(settings: CollectionSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or CollectionSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    for topic in ['collection.declarations', 'collection.remittances']:
        consume(app, runtime, topic, park_events(lambda: runtime.pool, settings.schema, "collection", topic))
    return app, runtime


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
