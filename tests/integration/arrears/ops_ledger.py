"""Helpers of the arrears operations tests: a migrated arrears schema in the test's database, a ledger
written the way core's handlers write it (debts + payment lines), and the outbox read back as typed events."""
from __future__ import annotations

import json
from datetime import date

import asyncpg
import pytest

from ansinh.runtime.database import prepare_schema
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from schemas.topics import spec


@pytest.fixture
async def arrears_db(isolated):
    """A connection as the arrears role to the test's database, with every arrears migration applied."""
    settings = isolated.service("arrears")
    await prepare_schema(settings)
    conn = await asyncpg.connect(settings.service_database_url, server_settings={"search_path": "arrears"})
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def isolated_pool(isolated, arrears_db):
    """A pool as the arrears role (what a handler gets), on the migrated schema."""
    from ansinh.runtime.database import create_pool
    pool = await create_pool(isolated.service("arrears"))
    try:
        yield pool
    finally:
        await pool.close()


def month(period: str) -> date:
    return date.fromisoformat(period + "-01")


async def owe(conn, employer: str, period: str, fund: str, principal: int, due: str) -> None:
    """Principal assessed for a debt (added to what is there), as core's assessment handler records it."""
    await conn.execute("""
        INSERT INTO arrears.debts (employer_code, period, fund, due_date, principal)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (employer_code, period, fund) DO UPDATE
        SET principal = debts.principal + EXCLUDED.principal, due_date = EXCLUDED.due_date, changed = true""",
                       employer, month(period), fund, date.fromisoformat(due), principal)


async def pay(conn, employer: str, period: str, fund: str, value_date: str, amount: int) -> None:
    """A payment line (summed per value date) and the debt's paid total, as core's allocation handler does."""
    day = date.fromisoformat(value_date)
    await conn.execute("""
        INSERT INTO arrears.payment_lines (employer_code, period, fund, value_date, amount) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (employer_code, period, fund, value_date) DO UPDATE SET amount = payment_lines.amount + $5""",
                       employer, month(period), fund, day, amount)
    await conn.execute("""
        INSERT INTO arrears.debts (employer_code, period, fund, paid, last_value_date) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (employer_code, period, fund) DO UPDATE
        SET paid = debts.paid + $4, last_value_date = greatest(debts.last_value_date, $5), changed = true""",
                       employer, month(period), fund, amount, day)


DECODER = Decoder(spec("arrears.events").messages)


async def outbox_events(conn, after_id: int = 0) -> list[tuple[int, str, object]]:
    """(outbox id, key, decoded message) of every outbox row after ``after_id``, decoded by the consumers'
    decoder: what the SQL built must be a valid event."""
    rows = await conn.fetch("SELECT id, key, value FROM arrears.outbox WHERE id > $1 ORDER BY id", after_id)
    out = []
    for r in rows:
        incoming = DECODER.decode(RawMessage("arrears.events", 0, r["id"], bytes(r["key"]), bytes(r["value"])))
        out.append((r["id"], bytes(r["key"]).decode(), incoming.message))
    return out


async def last_outbox_id(conn) -> int:
    return await conn.fetchval("SELECT coalesce(max(id), 0) FROM arrears.outbox")


def payloads(events) -> list[dict]:
    return [json.loads(m.model_dump_json()) | {"type": m.event_type} for _, _, m in events]


# ---- collection's events, as collection publishes them (for the tests through Kafka) ---------------------
def assessed(employer: str, period: str, worker: str, amount: int, due: str, revision: int = 0) -> dict:
    """A ContributionAssessed of one worker whose employer part of the retirement fund is ``amount``."""
    from schemas.collection import AmountLine, ContributionAssessed
    from schemas.envelope import new_envelope

    return new_envelope(ContributionAssessed(
        employer_code=employer, worker_code=worker, worker_name="Lê Văn Cường", period=period, revision=revision,
        due_date=date.fromisoformat(due), declared_salary=5_000_000, social_salary_base=5_000_000,
        unemployment_salary_base=5_000_000, floor_applied=False, cap_applied=False,
        lines=[AmountLine(fund="retirement", party="employer", amount=amount)], total=amount), "collection")


def allocated(employer: str, payment_id: str, value_date: str, lines: list[tuple[str, str, int]]) -> dict:
    """A RemittanceAllocated: (period, fund, amount) lines of one payment with its value date."""
    from schemas.collection import AllocationLine, RemittanceAllocated
    from schemas.envelope import new_envelope

    return new_envelope(RemittanceAllocated(
        payment_id=payment_id, employer_code=employer, value_date=date.fromisoformat(value_date),
        amount=sum(a for _, _, a in lines), credit_balance=0,
        lines=[AllocationLine(period=p, fund=f, amount=a) for p, f, a in lines]), "collection")


async def send(isolated, topic: str, *envelopes: dict) -> None:
    from schemas.envelope import encode
    from tests.kafka_helpers import publish

    await publish(isolated.bootstrap, isolated.topic(topic),
                  [(e["payload"]["employer_code"].encode(), encode(e)) for e in envelopes])


async def until(isolated, query: str, expected, *args, timeout: float = 40):
    """Poll ``query`` (one value) as the arrears role until it equals ``expected``; fail with the last value."""
    from tests.waiting import eventually_async

    async def value():
        conn = await asyncpg.connect(isolated.service("arrears").service_database_url)
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    return await eventually_async(value, timeout, interval=0.3, until=lambda v: v == expected,
                                  what=f"{query} = {expected!r}")


async def topic_events(isolated, expect: int, timeout: float = 30) -> list[dict]:
    """Every event on arrears.events once ``expect`` are there (and on to the end), as type + payload."""
    from tests.kafka_helpers import read_topic

    records = await read_topic(isolated.bootstrap, isolated.topic("arrears.events"), expect, timeout=timeout)
    return [{"type": json.loads(r.value)["type"], **json.loads(r.value)["payload"]} for r in records]


async def topic_envelopes(isolated, expect: int, timeout: float = 30) -> list[dict]:
    """Every envelope on arrears.events (with its event id), once ``expect`` are there."""
    from tests.kafka_helpers import read_topic

    records = await read_topic(isolated.bootstrap, isolated.topic("arrears.events"), expect, timeout=timeout)
    return [json.loads(r.value) for r in records]
