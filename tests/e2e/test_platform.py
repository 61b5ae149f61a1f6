"""All four services as processes: a declaration and a payment flow from collection to its consumers."""
from __future__ import annotations

import asyncpg
import pytest

from ansinh.runtime.settings import SERVICES
from schemas.envelope import encode
from tests.integration.collection.conftest import declaration, remittance
from tests.kafka_helpers import publish

pytestmark = pytest.mark.e2e


async def fetch(isolated, service: str, query: str) -> list[dict]:
    conn = await asyncpg.connect(isolated.service(service).service_database_url)
    try:
        return [dict(r) for r in await conn.fetch(query)]
    finally:
        await conn.close()


async def test_collections_events_reach_arrears_and_notifications_exactly_once(isolated):
    running = {name: isolated.start_service(name, ANSINH_BUSINESS_DATE="2025-09-15") for name in SERVICES}
    for service in running.values():
        assert service.get("/ready")[0] == 200 and service.get("/health")[0] == 200
    d = declaration(period="2025-07", salary=3_000_000)  # below the floor: assessed and flagged
    await publish(isolated.bootstrap, isolated.topic("collection.declarations"), [(b"DN0001", encode(d))] * 2)
    await publish(isolated.bootstrap, isolated.topic("collection.remittances"),
                  [(b"DN0001", encode(remittance("E2E-1", 500_000)))] * 2)
    for name in running:  # all input consumed and all output published: nothing more is coming
        await isolated.wait_until_idle(name)
    [assessment] = await fetch(isolated, "collection", "SELECT total FROM collection.assessments")
    # Arrears' ledger holds the month once (the declaration and the payment were each sent twice).
    [debt] = await fetch(isolated, "arrears", "SELECT sum(principal)::bigint AS principal FROM arrears.debts "
                                              "WHERE employer_code = 'DN0001' AND period = '2025-07-01'")
    [paid] = await fetch(isolated, "arrears", "SELECT sum(amount)::bigint AS amount FROM arrears.payment_lines")
    assert (debt["principal"], paid["amount"]) == (assessment["total"], 500_000)
    assert await fetch(isolated, "arrears", "SELECT worker_code FROM arrears.declared_workers") == [
        {"worker_code": d["payload"]["worker_code"]}]
    # Notifications claims both assessment events once and opens the worker's monthly digest.
    claimed = await fetch(isolated, "notifications", "SELECT count(*) AS n FROM notifications.inbox "
                                                     "WHERE consumer = 'collection.assessments'")
    digests = await fetch(isolated, "notifications", "SELECT worker_code, period FROM notifications.digests")
    assert claimed == [{"n": 2}]
    assert [(r["worker_code"], r["period"]) for r in digests] == [(d["payload"]["worker_code"], "2025-07")]
