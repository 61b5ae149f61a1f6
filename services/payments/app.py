"""Wiring of the payments service (a skeleton): its inputs are consumed and parked until it is implemented."""
from __future__ import annotations

import faust

from ansinh.runtime.parking import skeleton
from ansinh.runtime.service import ServiceRuntime, run_worker
from services.payments.settings import PaymentsSettings

INPUTS = ('benefits.awards', 'payments.bank-status', 'payments.cash-status')


def create(settings: PaymentsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    return skeleton(settings or PaymentsSettings(), INPUTS)


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
