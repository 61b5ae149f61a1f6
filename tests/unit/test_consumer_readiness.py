"""Readiness follows the dependencies even when no message flows (pure: a fake probe, no broker or database)."""
from __future__ import annotations

import asyncio

import asyncpg

from ansinh.runtime import health
from ansinh.runtime.probes import watch

SERVICE = "unit-readiness"


async def test_a_failing_probe_turns_readiness_red_until_it_passes_again_by_itself():
    stopping, seen = asyncio.Event(), []
    outcomes = iter([None, ConnectionRefusedError(), asyncpg.exceptions.CannotConnectNowError("starting up"), None])
    health.of(SERVICE).start()

    async def probe():
        seen.append(health.of(SERVICE).ready)
        outcome = next(outcomes, None)
        if outcome is None and len(seen) >= 4:
            stopping.set()
        if outcome is not None:
            raise outcome

    await asyncio.wait_for(watch("database", SERVICE, probe, stopping, interval_s=0.01), 10)
    assert seen == [True, True, False, False]  # red from the first failure until a probe passed
    assert health.of(SERVICE).ready and health.of(SERVICE).waiting_on == {}


async def test_readiness_names_what_it_waits_on():
    stopping, reported = asyncio.Event(), []

    async def probe():
        if reported:
            stopping.set()
            return
        reported.append(None)
        raise ConnectionRefusedError()

    health.of(SERVICE).start()
    task = asyncio.create_task(watch("broker", SERVICE, probe, stopping, interval_s=0.01))
    deadline = asyncio.get_running_loop().time() + 5
    while not health.of(SERVICE).waiting_on and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.001)
    assert health.of(SERVICE).waiting_on == {"broker probe": "ConnectionRefusedError"}
    await asyncio.wait_for(task, 10)
    assert health.of(SERVICE).ready
