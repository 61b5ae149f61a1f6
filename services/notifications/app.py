"""Wiring of the notifications service: contacts and events in, pending notifications out, delivery sends them."""
from __future__ import annotations

import asyncio
import logging

import faust

from ansinh.runtime.errors import error_name
from ansinh.runtime.service import ServiceRuntime, build_app, consume, run_worker
from services.notifications import http
from services.notifications.delivery import wiring as delivery
from services.notifications.handlers import CONTACTS_TOPIC, EVENT_TOPICS, Notifications
from services.notifications.render import Renderer
from services.notifications.settings import NotificationsSettings

log = logging.getLogger("services.notifications")
BULK_TOPICS = ("collection.assessments", "payments.events")


def create(settings: NotificationsSettings | None = None) -> tuple[faust.App, ServiceRuntime]:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    handlers = Notifications(lambda: runtime.pool, Renderer(settings.sms_unaccented), settings.digest_delay_s,
                             keep_triggers_s=settings.keep_triggers_s)
    # Compacted: a tombstone is the registry erasing a participant's contact details (not a malformed record).
    consume(app, runtime, CONTACTS_TOPIC, handlers.handle_contacts, tombstones=True)
    for topic in EVENT_TOPICS:
        # Every worker's month (20 million a month) and every payment's steps (3.4 million a month, several
        # steps each): bulk topics, read in plain aiokafka batches (see docs/runtime.md).
        consume(app, runtime, topic, handlers.handler_for(topic), bulk=topic in BULK_TOPICS)

    @app.task
    async def digest_sweep():
        await runtime.ready.wait()
        while True:
            try:
                await handlers.emit_due_digests()
                await handlers.forget_expired_triggers()
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again; a digest is never lost (emitted_at)
                # By class and SQLSTATE only: a database error's text can quote a value (personal data).
                log.warning("digest sweep failed (%s); trying again in %.0f s", error_name(exc),
                            settings.digest_sweep_s)
            await asyncio.sleep(settings.digest_sweep_s)

    delivery.attach(app, runtime, settings)  # the dispatcher: sends pending notifications
    http.build_api(runtime).mount(app)  # history, failed list, replay, /openapi.json
    return app, runtime


def main() -> None:
    app, runtime = create()
    run_worker(app, runtime.settings)
