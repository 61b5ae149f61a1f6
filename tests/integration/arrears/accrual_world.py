"""Helpers of the core arrears tests (accrual and ledger): the arrears schema migrated in the test's database,
debts and payments written through the handlers' own repository functions, and the run's outbox decoded."""
from __future__ import annotations

from datetime import date

import pytest

from ansinh.runtime.database import create_pool, prepare_schema
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from schemas.topics import spec
from services.arrears import repository as repo
from services.arrears.domain.due import due_date
from services.arrears.domain.law import load_law

LAW = load_law()
DECODER = Decoder(spec("arrears.events").messages)


@pytest.fixture
async def arrears_pool(isolated):
    """A pool of the arrears role on the test's database, every arrears migration applied."""
    settings = isolated.service("arrears")
    await prepare_schema(settings)
    pool = await create_pool(settings)
    try:
        yield pool
    finally:
        await pool.close()


def month(period: str) -> date:
    return date.fromisoformat(period + "-01")


async def owe(conn, employer: str, period: str, fund: str, amount: int) -> None:
    """Principal assessed (or adjusted, when negative) for a debt, as the assessments handler records it."""
    async with conn.transaction():
        await repo.share_ledger(conn)
        await repo.add_principal(conn, [(employer, month(period), fund, due_date(LAW, month(period)), amount)])


async def pay(conn, employer: str, period: str, fund: str, value_date: str, amount: int) -> None:
    """A payment line with its value date, as the allocations handler records it."""
    async with conn.transaction():
        await repo.share_ledger(conn)
        await repo.add_payments(conn, [(employer, month(period), fund, date.fromisoformat(value_date), amount)])


async def events_after(conn, after_id: int = 0) -> list[dict]:
    """Outbox events with id > ``after_id``, decoded with the consumers' decoder, as plain payload dicts
    with their type (so a test compares with a literal)."""
    rows = await conn.fetch("SELECT id, key, value FROM arrears.outbox WHERE id > $1 ORDER BY id", after_id)
    found = []
    for row in rows:
        incoming = DECODER.decode(RawMessage("arrears.events", 0, row["id"], row["key"], row["value"]))
        found.append({"type": incoming.envelope.type, **incoming.message.model_dump(mode="json")})
    return found


async def last_outbox_id(conn) -> int:
    return await conn.fetchval("SELECT coalesce(max(id), 0) FROM arrears.outbox")


async def charged(conn, employer: str, period: str) -> dict[str, int]:
    """Interest charged so far on an employer's period, per rule: every run's postings, corrections included."""
    rows = await conn.fetch("SELECT rule_id, sum(amount) AS amount FROM arrears.interest_postings "
                            "WHERE employer_code = $1 AND period = $2 GROUP BY rule_id", employer, month(period))
    return {r["rule_id"]: int(r["amount"]) for r in rows if r["amount"]}


# ---- collection's events, as collection publishes them ----------------------------------------------------
def assessed(employer: str, period: str, amounts: dict[str, int], worker: str = "0000000001") -> dict:
    """A ContributionAssessed whose employer part carries ``amounts`` per fund (the employee part 0)."""
    from schemas.collection import AmountLine, ContributionAssessed
    from schemas.envelope import new_envelope

    lines = [AmountLine(fund=f, party="employer", amount=a) for f, a in amounts.items()]
    return new_envelope(ContributionAssessed(
        employer_code=employer, worker_code=worker, worker_name="Lê Văn Cường", period=period, revision=0,
        due_date=_collection_due_date(period), declared_salary=10_000_000, social_salary_base=10_000_000,
        unemployment_salary_base=10_000_000, floor_applied=False, cap_applied=False, lines=lines,
        total=sum(amounts.values())), "collection")


def _collection_due_date(period: str) -> date:
    """The due date collection puts in the event (arrears computes its own; they agree from 2016 on)."""
    from services.arrears.domain.due import last_day_of_month
    from services.arrears.domain.errors import NoLawForPeriod
    try:
        return due_date(LAW, month(period))
    except NoLawForPeriod:
        return last_day_of_month(int(period[:4]), int(period[5:7]))


def allocated(employer: str, payment_id: str, value_date: str, lines: list[tuple[str, str, int]]) -> dict:
    """A RemittanceAllocated: (period, fund, amount) lines of one payment with its value date."""
    from schemas.collection import AllocationLine, RemittanceAllocated
    from schemas.envelope import new_envelope

    return new_envelope(RemittanceAllocated(
        payment_id=payment_id, employer_code=employer, value_date=date.fromisoformat(value_date),
        amount=sum(a for _, _, a in lines), credit_balance=0,
        lines=[AllocationLine(period=p, fund=f, amount=a) for p, f, a in lines]), "collection")


# ---- a run in a process of its own (to crash it) -----------------------------------------------------------
RUNNER = """
import asyncio, sys
from datetime import date
from ansinh.runtime.database import create_pool
from services.arrears.accrual import run_accrual
from services.arrears.settings import ArrearsSettings

async def main():
    pool = await create_pool(ArrearsSettings())
    result = await run_accrual(pool, date.fromisoformat(sys.argv[1]), chunks=int(sys.argv[2]))
    print(result, flush=True)

asyncio.run(main())
"""


def start_run_process(isolated, day: str, chunks: int, failpoints: str = ""):
    """``run_accrual`` in a child process as the arrears role (ANSINH_FAILPOINTS=``failpoints``)."""
    import subprocess
    import sys

    from ansinh.ops.credentials import LocalSecrets
    from ansinh.runtime.settings import REPO_ROOT

    env = isolated.env(ANSINH_DB_PASSWORD=LocalSecrets(isolated.platform.state_dir).db_password("arrears"),
                       ANSINH_FAILPOINTS=failpoints)
    return subprocess.Popen([sys.executable, "-c", RUNNER, day, str(chunks)], cwd=REPO_ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def chunk_of(conn, employer: str, chunks: int) -> int:
    """The chunk of the run that accrues ``employer`` (the run's own hash)."""
    return await conn.fetchval("SELECT mod(hashtext($1)::bigint + 2147483648, $2)", employer, chunks)
