"""Helpers of the payments core tests: award events, operators with distinct tokens, the payments database."""
from __future__ import annotations

import json
import secrets
from contextlib import asynccontextmanager
from datetime import date

import asyncpg

from ansinh.runtime import auth
from ansinh.runtime.database import create_pool, prepare_schema
from schemas import benefits
from schemas.envelope import encode, new_envelope
from services.payments.domain.calendar import load_calendar
from services.payments.runs import RunSettings, Runs
from services.payments.settings import PaymentsSettings
from tests.kafka_helpers import publish

# Two operators (maker and checker) and a reader without the approver role; tokens are random per test run.
TOKENS = {name: secrets.token_hex(20) for name in ("maker", "checker", "reader", "clerk")}
ROLES = {"maker": ["payments:prepare", "payments:read"],
         "checker": ["payments:approve", "payments:read", "personal_data:read"],
         "reader": ["payments:read"],
         "clerk": ["payments:prepare", "payments:approve", "payments:read"]}
API_TOKENS = json.dumps([{"principal": n, "token": t, "roles": ROLES[n]} for n, t in TOKENS.items()])
MAKER, CHECKER = auth.Principal("maker", frozenset(ROLES["maker"])), auth.Principal("checker", frozenset(ROLES["checker"]))
BANK = {"kind": "bank", "bank_bin": "970436", "account_number": "0011001234567", "account_name": "LE VAN CUONG"}


def cash(office: str = "BC-HN-001") -> dict:
    return {"kind": "cash", "paying_office": office, "home_delivery": False}


def awarded(award_id: str, code: str, amount: int = 5_500_000, channel: dict | None = None, first: str = "2026-01",
            last: str | None = None, recurrence: str = "monthly", benefit_type: str = "old_age_pension") -> dict:
    return new_envelope(benefits.BenefitAwarded.model_validate({
        "award_id": award_id, "beneficiary_code": code, "beneficiary_name": "Lê Văn Cường",
        "citizen_id": "001090012345", "benefit_type": benefit_type, "amount": amount, "recurrence": recurrence,
        "first_period": first, "last_period": last, "channel": channel or BANK}), "benefit-decisions")


def event(kind: type, **fields) -> dict:
    return new_envelope(kind.model_validate(fields), "benefit-decisions")


async def send_awards(isolated, *envelopes: dict, key: str = "0123456789") -> None:
    await publish(isolated.bootstrap, isolated.topic("benefits.awards"),
                  [((e["payload"].get("beneficiary_code") or key).encode(), encode(e)) for e in envelopes])


def settings_of(isolated, **overrides) -> PaymentsSettings:
    base = isolated.service("payments").model_dump(include={"db_password", "db_host", "db_port", "db_name",
                                                            "topic_prefix"})
    return PaymentsSettings(**{**base, **overrides})


@asynccontextmanager
async def payments_db(isolated, chunk: int = 1000):
    """The payments schema migrated in the test's database, a pool on it, and the run steps on that pool."""
    settings = settings_of(isolated, run_chunk=chunk)
    await prepare_schema(settings)
    pool = await create_pool(settings)
    try:
        yield pool, Runs(lambda: pool, load_calendar(settings.calendar_file),
                         RunSettings(chunk, settings.payment_point_prefixes))
    finally:
        await pool.close()


async def seed_entitlements(conn: asyncpg.Connection, count: int, first: date = date(2026, 1, 1),
                            cash_every: int = 4, start: int = 0) -> None:
    """``count`` active monthly awards (AW-<n>), one beneficiary each; every ``cash_every``-th is paid in cash
    at a post office (every 8th of those at a payment point), the others to one of three banks."""
    await conn.execute("""
        INSERT INTO entitlements (award_id, beneficiary_code, beneficiary_name, citizen_id, benefit_type, amount,
                                  recurrence, first_period, status_from, channel, bank_bin, account_number,
                                  account_name, paying_office, channel_from)
        SELECT 'AW-' || lpad(n::text, 8, '0'), lpad(n::text, 10, '0'), 'Người hưởng ' || n, lpad(n::text, 12, '0'),
               CASE WHEN n % 3 = 0 THEN 'survivor_allowance' ELSE 'old_age_pension' END, 3000000 + (n % 50) * 10000,
               'monthly', $1, $1, CASE WHEN n % $2 = 0 THEN 'cash' ELSE 'bank' END,
               CASE WHEN n % $2 = 0 THEN NULL ELSE (ARRAY['970436', '970415', '970418'])[1 + n % 3] END,
               CASE WHEN n % $2 = 0 THEN NULL ELSE lpad(n::text, 13, '0') END,
               CASE WHEN n % $2 = 0 THEN NULL ELSE 'NGUOI HUONG ' || n END,
               CASE WHEN n % $2 <> 0 THEN NULL WHEN n % (8 * $2) = 0 THEN 'DCT-' || (n % 97) ELSE 'BC-' || (n % 89) END,
               $1
        FROM generate_series($3::int + 1, $3::int + $4::int) AS n""", first, cash_every, start, count)
    await conn.execute("INSERT INTO channel_changes (award_id, from_period, channel, bank_bin, account_number, "
                       "account_name, paying_office, event_id) SELECT award_id, channel_from, channel, bank_bin, "
                       "account_number, account_name, paying_office, gen_random_uuid() FROM entitlements "
                       "WHERE award_id > $1", f"AW-{start:08d}")


def call(service, method: str, path: str, who: str, body: dict | None = None) -> tuple[int, dict]:
    status, raw = service.request(method, path, body, token=TOKENS[who])
    return status, json.loads(raw)


def wait_for_state(service, period: str, states: set[str], timeout: float = 120) -> dict:
    """Poll the run's view until its state is one of ``states``; fail with the last view seen."""
    from tests.waiting import eventually

    def reached():
        status, view = call(service, "GET", f"/runs/{period}", "reader")
        assert status == 200 and view["state"] in states, (status, view.get("state"), view.get("progress"))
        return view
    return eventually(reached, timeout, interval=0.3, what=f"run {period} in {sorted(states)}")


async def sql(isolated, query: str, *args):
    conn = await asyncpg.connect(isolated.service("payments").service_database_url)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


async def seed(isolated, count: int, **options) -> None:
    conn = await asyncpg.connect(isolated.service("payments").service_database_url,
                                 server_settings={"search_path": "payments"})
    try:
        await seed_entitlements(conn, count, **options)
    finally:
        await conn.close()
