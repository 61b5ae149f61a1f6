"""Runs the dispatcher inside the service: started after the runtime is ready, stopped gracefully (the
batch in flight is recorded before the process exits, so a clean stop never leaves e-mail `uncertain`)."""
from __future__ import annotations

import asyncio
import logging

import mode

from ansinh.runtime.database import connect
from ansinh.runtime.service import ServiceRuntime
from ansinh.runtime.settings import ServiceSettings
from services.notifications.delivery.channels import Channel
from services.notifications.delivery.dispatcher import Dispatcher
from services.notifications.delivery.email import SmtpChannel
from services.notifications.delivery.gateway import GatewayChannel
from services.notifications.delivery.settings import DeliverySettings

log = logging.getLogger("services.notifications.delivery")
STOP_TIMEOUT_S = 30.0


def channels_of(settings: DeliverySettings) -> dict[str, Channel]:
    """An adapter for each configured channel; the others are not sent (their rows wait)."""
    made: dict[str, Channel] = {}
    for channel in settings.configured_channels:
        made[channel] = SmtpChannel(settings) if channel == "email" else GatewayChannel(settings, channel)
    return made


class Delivery(mode.Service):
    def __init__(self, settings: DeliverySettings, runtime: ServiceRuntime, **kwargs):
        super().__init__(**kwargs)
        self.delivery_settings = settings
        self.runtime = runtime
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def on_start(self) -> None:
        if not self.delivery_settings.delivery_enabled:
            log.info("delivery disabled (ANSINH_DELIVERY_ENABLED=false): notifications stay pending")
            return
        self._task = asyncio.create_task(self._run(), name="notifications-dispatcher")

    async def _run(self) -> None:
        await self.runtime.ready.wait()
        settings, service = self.delivery_settings, self.runtime.settings
        channels = channels_of(settings)
        missing = {"email", "sms", "push"} - set(channels)
        if missing:
            log.warning("not configured, so not sent (rows wait): %s", ", ".join(sorted(missing)))
        for channel in channels.values():
            await channel.start()
        try:
            dispatcher = Dispatcher(settings, service.service, channels,
                                    lambda: connect(service, "ansinh-notifications-dispatcher"))
            await dispatcher.run(self._stopping)
        finally:
            for channel in channels.values():
                await channel.close()

    async def on_stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - stopping anyway; rows left `sending` are recovered at start
                log.warning("dispatcher did not stop cleanly", exc_info=True)


def attach(app, runtime: ServiceRuntime, settings: ServiceSettings) -> Delivery:
    """Wire delivery into the service's faust app (``settings`` must carry the delivery settings)."""
    delivery = Delivery(settings, runtime)  # type: ignore[arg-type]
    app.add_dependency(delivery)
    return delivery
