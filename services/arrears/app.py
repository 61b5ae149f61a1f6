"""Wiring of the arrears service (a skeleton): its inputs are consumed and parked until it is implemented."""
from __future__ import annotations

import faust

from ansinh.runtime.parking import skeleton
from ansinh.runtime.service import ServiceRuntime, run_worker
from services.arrears.settings import ArrearsSettings

INPUTS = ('collection.assessments', 'collection.allocations')


def create(settings: ArrearsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    return skeleton(settings or ArrearsSettings(), INPUTS)


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
