"""A paid period for the bank/cash status tests: awards, a run prepared, approved and sent by core's code (which
records its pain.001 parts), the payments service running; helpers to report statuses and read what came out."""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone

import asyncpg

from schemas import payments as wire
from schemas.envelope import encode, new_envelope
from tests.integration.payments.core_helpers import (API_TOKENS, CHECKER, MAKER, TOKENS, payments_db,
                                                    seed_entitlements)
from tests.kafka_helpers import header, publish, read_topic
from tests.waiting import eventually_async

PERIOD = date(2026, 1, 1)
# Awards 1..8 (core's seed): 4 and 8 in cash; banks by award number % 3: 0 -> 970436, 1 -> 970415, 2 -> 970418.
BANK_OF = {1: "970415", 2: "970418", 3: "970436", 5: "970418", 6: "970436", 7: "970415"}


@dataclass
class World:
    isolated: object
    pool: asyncpg.Pool
    service: object
    payment_of: dict[int, str]          # award number -> payment id
    message_of: dict[str, str]          # bank BIN -> pain.001 message id

    async def bank_document(self, bank_bin: str, document: str) -> dict:
        envelope = new_envelope(wire.BankStatusReportReceived(bank_bin=bank_bin, document=document), "bank")
        await publish(self.isolated.bootstrap, self.isolated.topic("payments.bank-status"),
                      [(bank_bin.encode(), encode(envelope))])
        return envelope

    async def bank_json(self, bank_bin: str, end_to_end_id: str, status: str, reason: str | None = None) -> dict:
        envelope = new_envelope(wire.BankPaymentStatusReported(
            bank_bin=bank_bin, original_message_id=self.message_of.get(bank_bin, "UNKNOWN"),
            end_to_end_id=end_to_end_id, status=status, reason_code=reason,
            reported_at=datetime.now(timezone.utc)), "bank")
        await publish(self.isolated.bootstrap, self.isolated.topic("payments.bank-status"),
                      [(bank_bin.encode(), encode(envelope))])
        return envelope

    async def cash(self, payment_id: str, office: str, outcome: str) -> dict:
        envelope = new_envelope(wire.CashPaymentReported(payment_id=payment_id, paying_office=office, outcome=outcome,
                                                         paid_at=datetime.now(timezone.utc) if outcome == "paid"
                                                         else None), "vnpost")
        await publish(self.isolated.bootstrap, self.isolated.topic("payments.cash-status"),
                      [(office.encode(), encode(envelope))])
        return envelope

    async def raw(self, topic: str, value: bytes) -> None:
        await publish(self.isolated.bootstrap, self.isolated.topic(topic), [(b"970436", value)])

    async def states(self) -> dict[str, str]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT payment_id, state FROM payments")
        return {r["payment_id"]: r["state"] for r in rows}

    async def until_states(self, expected: dict[str, str], timeout: float = 45) -> dict[str, str]:
        def matches(states):
            return all(states.get(p) == s for p, s in expected.items())
        return await eventually_async(self.states, timeout, interval=0.3, until=matches,
                                      what=f"payments reach {expected}")

    async def events(self, topic: str, expect: int) -> list[dict]:
        await self.isolated.wait_until_idle("payments")
        records = await read_topic(self.isolated.bootstrap, self.isolated.topic(topic), expect)
        return [json.loads(r.value) for r in records]

    async def dead_letters(self, topic: str, expect: int) -> list[tuple[str, bytes]]:
        records = await read_topic(self.isolated.bootstrap, self.isolated.topic(f"{topic}.dlq"), expect)
        return [(header(r, "dlq.reason"), r.value) for r in records]

    def get(self, path: str, reader: str = "checker") -> tuple[int, dict]:
        """GET as an operator (``checker`` reads payments and personal data; ``reader`` only payments)."""
        status, body = self.service.get(path, token=TOKENS[reader])
        return status, json.loads(body)

    def post(self, path: str, body: dict, operator: str = "checker") -> tuple[int, dict]:
        status, answer = self.service.request("POST", path, body, token=TOKENS[operator])
        return status, json.loads(answer)

    async def fetch(self, sql: str, *args):
        async with self.pool.acquire() as conn:
            return await conn.fetch(sql, *args)


async def prepare_and_send(pool, runs, awards: int = 8) -> None:
    async with pool.acquire() as conn:
        await seed_entitlements(conn, awards, first=PERIOD, cash_every=4)
        # Award 7 once took cash at a post office (a rejected transfer can go back there).
        await conn.execute("INSERT INTO channel_changes (award_id, from_period, changed_at, channel, paying_office, "
                           "event_id) VALUES ('AW-00000007', '2025-01-01', '2025-01-01', 'cash', 'BC-77', "
                           "gen_random_uuid())")
    await runs.prepare(MAKER, PERIOD)
    await runs.approve(CHECKER, PERIOD, "checked")
    await runs.send(PERIOD)


async def sent_batches(pool) -> dict[str, str]:
    """The pain.001 message id the run sent to each bank (one part each here), as the sender recorded it."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT bank_bin, message_id FROM bank_batches WHERE run_period = $1 AND part = 1",
                                PERIOD)
    return {r["bank_bin"]: r["message_id"] for r in rows}


@asynccontextmanager
async def status_world(isolated, **env: str):
    async with payments_db(isolated) as (pool, runs):
        await prepare_and_send(pool, runs)
        message_of = await sent_batches(pool)
        async with pool.acquire() as conn:
            payment_of = {int(r["award_id"][3:]): r["payment_id"]
                          for r in await conn.fetch("SELECT award_id, payment_id FROM payments")}
        service = isolated.start_service("payments", ANSINH_BUSINESS_DATE="2026-02-05",
                                         ANSINH_PAYMENTS_RETRY_FIRST_DELAY_S="0",
                                         ANSINH_PAYMENTS_RETRY_CHECK_INTERVAL_S="0.5", ANSINH_API_TOKENS=API_TOKENS,
                                         **env)
        yield World(isolated, pool, service, payment_of, message_of)
