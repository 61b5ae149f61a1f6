"""Readiness follows the broker and the database even when no message flows.

The consume loop and the relay mark the service not ready while they wait out a fault, but only when
they have work: during a broker restart a consumer's fetch simply returns nothing, and an idle service
would stay green. So each dependency is probed every few seconds under the runtime's one retry policy
(``ansinh.runtime.retry``): red from the first failed probe, green again by itself when a probe passes.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError

from ansinh.runtime.database import connect
from ansinh.runtime.errors import error_name
from ansinh.runtime.retry import retry_transient
from ansinh.runtime.settings import ServiceSettings

log = logging.getLogger("ansinh.runtime.probes")
INTERVAL_S, TIMEOUT_S = 2.0, 5.0


async def watch(name: str, service: str, probe: Callable[[], Awaitable[None]], stopping: asyncio.Event,
                interval_s: float = INTERVAL_S) -> None:
    """Run ``probe`` every ``interval_s`` until ``stopping``; while it fails, ``/ready`` says so. A probe
    refused for a fault of ours (bad password, missing grant) holds red too, with a loud log."""
    try:
        while not stopping.is_set():
            try:
                await retry_transient(f"{name} probe", service, "", probe, retry_on="not-the-message",
                                      stop_when=stopping)
            except Exception as exc:  # noqa: BLE001 - a probe must never take the service down
                if not stopping.is_set():
                    log.warning("%s probe failed: %s", name, error_name(exc))
            try:
                await asyncio.wait_for(stopping.wait(), interval_s)
            except asyncio.TimeoutError:
                pass
    finally:
        close = getattr(probe, "close", None)
        if close is not None:
            await close()


class BrokerProbe:
    """Ask the cluster for its metadata over the producer's connections (one small request)."""

    def __init__(self, producer: AIOKafkaProducer):
        self.producer = producer

    async def __call__(self) -> None:
        try:
            await asyncio.wait_for(self.producer.client.fetch_all_metadata(), TIMEOUT_S)
        except (KafkaError, asyncio.TimeoutError) as exc:
            # aiokafka says "no broker answered" with a plain KafkaError: a connection fault, transient
            raise KafkaConnectionError(f"broker unreachable ({type(exc).__name__})") from exc


class DatabaseProbe:
    """``SELECT 1`` on a connection of its own (a busy pool must not look like a dead database)."""

    def __init__(self, settings: ServiceSettings):
        self.settings = settings
        self.conn: asyncpg.Connection | None = None

    async def __call__(self) -> None:
        try:
            if self.conn is None or self.conn.is_closed():
                self.conn = await asyncio.wait_for(connect(self.settings, "ansinh-probe"), TIMEOUT_S)
            await self.conn.fetchval("SELECT 1", timeout=TIMEOUT_S)
        except BaseException:
            if self.conn is not None:
                self.conn.terminate()
                self.conn = None
            raise

    async def close(self) -> None:
        if self.conn is not None and not self.conn.is_closed():
            await self.conn.close()
