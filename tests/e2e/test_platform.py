"""All four services as processes: a declaration and a payment flow from collection to its consumers."""
from __future__ import annotations

import asyncpg
import pytest

from ansinh.runtime.settings import SERVICES
from schemas.envelope import encode
from tests.integration.collection.conftest import declaration, remittance
from tests.kafka_helpers import publish
from tests.waiting import eventually_async

pytestmark = pytest.mark.e2e


async def parked(isolated, service: str) -> list[str]:
    conn = await asyncpg.connect(isolated.service(service).service_database_url)
    try:
        rows = await conn.fetch(f"SELECT type FROM {service}.parked_events ORDER BY type")
        return [r["type"] for r in rows]
    finally:
        await conn.close()


async def test_collections_events_reach_arrears_and_notifications_exactly_once(isolated):
    running = {name: isolated.start_service(name, ANSINH_BUSINESS_DATE="2025-09-15") for name in SERVICES}
    for service in running.values():
        assert service.get("/ready")[0] == 200 and service.get("/health")[0] == 200
    d = declaration(period="2025-07", salary=3_000_000)  # below the floor: assessed and flagged
    await publish(isolated.bootstrap, isolated.topic("collection.declarations"), [(b"DN0001", encode(d))] * 2)
    await wait_until_parked(isolated, "arrears", ["ContributionAssessed", "UnderDeclarationFlagged"])
    await publish(isolated.bootstrap, isolated.topic("collection.remittances"),
                  [(b"DN0001", encode(remittance("E2E-1", 500_000)))])
    expected = ["ContributionAssessed", "RemittanceAllocated", "UnderDeclarationFlagged"]
    for service in ("arrears",):
        await wait_until_parked(isolated, service, expected)
    for name in running:  # all input consumed and all output published: nothing more is coming
        await isolated.wait_until_idle(name)
    for service in ("arrears",):
        assert await parked(isolated, service) == expected
    # Notifications claims both assessment events once and opens the worker's monthly digest.
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        claimed = await conn.fetchval("SELECT count(*) FROM notifications.inbox WHERE consumer = $1",
                                      "collection.assessments")
        digests = await conn.fetch("SELECT worker_code, period FROM notifications.digests")
    finally:
        await conn.close()
    assert claimed == 2
    assert [(r["worker_code"], r["period"]) for r in digests] == [(d["payload"]["worker_code"], "2025-07")]


async def wait_until_parked(isolated, service: str, expected: list[str]) -> None:
    """Until exactly ``expected`` is parked; fails with what was parked last (a duplicate shows as such)."""
    await eventually_async(lambda: parked(isolated, service), timeout=40, until=lambda got: got == expected,
                           what=f"{service} parks {expected}")

