"""A running collection service per test, with a fixed business date, plus helpers to talk to it."""
from __future__ import annotations

import json
from dataclasses import dataclass

import asyncpg
import pytest

from schemas.collection import RemittanceReceived, SalaryDeclared
from schemas.envelope import encode, new_envelope
from tests.kafka_helpers import publish, read_topic

BUSINESS_DATE = "2025-09-15"
ALL_FUNDS = ["sickness_maternity", "accident", "retirement", "health", "unemployment"]


def declaration(worker: str = "0000000001", salary: int = 10_000_000, period: str = "2025-07",
                employer: str = "DN0001", revision: int = 0, region: int = 1, **extra) -> dict:
    message = SalaryDeclared(employer_code=employer, employer_tax_code="0101234567", region=region,
                             period=period, worker_code=worker, worker_name="Lê Văn Cường",
                             citizen_id="001090012345", contribution_salary=salary,
                             funds=extra.pop("funds", ALL_FUNDS), revision=revision, **extra)
    return new_envelope(message, "payroll-vendor-x")


def remittance(payment_id: str, amount: int, value_date: str = "2025-08-20", employer: str = "DN0001") -> dict:
    from datetime import date
    return new_envelope(RemittanceReceived(payment_id=payment_id, employer_code=employer, amount=amount,
                                           value_date=date.fromisoformat(value_date), bank_reference=f"FT{payment_id}"),
                        "bank-970436")


@dataclass
class CollectionUnderTest:
    isolated: object
    service: object

    async def declare(self, *envelopes: dict) -> None:
        await publish(self.isolated.bootstrap, self.isolated.topic("collection.declarations"),
                      [(e["payload"]["employer_code"].encode(), encode(e)) for e in envelopes])

    async def pay(self, *envelopes: dict) -> None:
        await publish(self.isolated.bootstrap, self.isolated.topic("collection.remittances"),
                      [(e["payload"].get("employer_code", "X").encode(), encode(e)) for e in envelopes])

    async def events(self, topic: str, expect: int, settle: float | None = None) -> list[dict]:
        """Everything collection wrote to ``topic``, once ``expect`` records are there and the service is
        idle (input committed, outbox published): an extra or duplicate event is returned, not missed.
        (``settle`` is ignored: waiting for idleness replaced the fixed pause.)"""
        return [json.loads(r.value) for r in await self._complete(self.isolated.topic(topic), expect)]

    async def dead(self, topic: str, expect: int):
        """Every dead letter of ``topic``, read the same way as ``events``."""
        return await self._complete(self.isolated.topic(topic) + ".dlq", expect)

    async def _complete(self, topic: str, expect: int):
        await read_topic(self.isolated.bootstrap, topic, expect)
        await self.isolated.wait_until_idle("collection")
        return await read_topic(self.isolated.bootstrap, topic, expect)  # on to the end: nothing more is coming

    async def sql(self, query: str, *args):
        conn = await asyncpg.connect(self.isolated.service("collection").service_database_url)
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    def get(self, path: str):
        status, body = self.service.get(path)
        return status, json.loads(body)


@pytest.fixture
async def collection(isolated):
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE, ANSINH_BATCH_WINDOW_S="0.05")
    yield CollectionUnderTest(isolated, service)
