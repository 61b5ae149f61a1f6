"""SMS and app push over the gateway's HTTP API (aiohttp): one JSON POST per message.

Every request carries ``Idempotency-Key`` (see ``channels.idempotency_key``): a message sent again after a
crash between the gateway's answer and our record has the same key, and the gateway answers it without
sending it twice. Statuses decide the outcome (``http_outcome``): 2xx sent, 408/425/429/5xx transient,
other 4xx permanent (an invalid number or token); a timeout or a refused connection is transient.

    POST {ANSINH_GATEWAY_SMS_URL}   {"to": "+84...", "from": sender, "text": body}
    POST {ANSINH_GATEWAY_PUSH_URL}  {"token": app token, "title": subject, "body": body}
    Authorization: Bearer {ANSINH_GATEWAY_TOKEN}
"""
from __future__ import annotations

import asyncio
import logging
from typing import Sequence

import aiohttp

from services.notifications.delivery.channels import Message
from services.notifications.delivery.settings import DeliverySettings
from services.notifications.domain.delivery import Outcome, http_outcome

log = logging.getLogger("services.notifications.gateway")


def request_body(message: Message, sms_sender: str) -> dict:
    if message.channel == "sms":
        return {"to": message.recipient, "from": sms_sender, "text": message.body}
    return {"token": message.recipient, "title": message.subject or "", "body": message.body}


class GatewayChannel:
    """One channel (sms or push) of the gateway; the session keeps its connections alive between sends."""

    def __init__(self, settings: DeliverySettings, channel: str):
        self.settings = settings
        self.channel = channel
        self.url = settings.gateway_sms_url if channel == "sms" else settings.gateway_push_url
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        s = self.settings
        headers = {"Content-Type": "application/json"}
        if s.gateway_token.get_secret_value():
            headers["Authorization"] = f"Bearer {s.gateway_token.get_secret_value()}"
        self._session = aiohttp.ClientSession(
            headers=headers, timeout=aiohttp.ClientTimeout(total=s.gateway_timeout_s),
            connector=aiohttp.TCPConnector(limit=max(s.gateway_connections, 1)))

    async def send(self, messages: Sequence[Message]) -> list[Outcome]:
        return list(await asyncio.gather(*(self._send_one(m) for m in messages)))

    async def _send_one(self, message: Message) -> Outcome:
        assert self._session is not None, "start() first"
        try:
            async with self._session.post(self.url, json=request_body(message, self.settings.sms_sender),
                                          headers={"Idempotency-Key": message.idempotency_key}) as response:
                await response.read()
                return http_outcome(response.status)
        except asyncio.TimeoutError:
            return Outcome.transient("timeout")
        except (aiohttp.ClientError, OSError) as exc:
            log.warning("%s gateway request failed: %s", self.channel, type(exc).__name__)
            return Outcome.transient("connection")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
