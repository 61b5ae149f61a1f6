"""Wiring of the notifications service (a skeleton): its inputs are consumed and parked until it is implemented."""
from __future__ import annotations

import faust

from ansinh.runtime.parking import skeleton
from ansinh.runtime.service import ServiceRuntime, run_worker
from services.notifications.delivery import wiring as delivery
from services.notifications.settings import NotificationsSettings

INPUTS = ('participants.contacts', 'collection.assessments', 'collection.allocations')


def create(settings: NotificationsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or NotificationsSettings()
    app, runtime = skeleton(settings, INPUTS)
    delivery.attach(app, runtime, settings)  # the dispatcher: sends pending notifications
    return app, runtime


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
