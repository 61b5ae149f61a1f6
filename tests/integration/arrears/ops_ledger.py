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
