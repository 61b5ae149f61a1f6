"""Releases and the payment history: obligations released before payment history existed (migration 0004), and
a release the recorded payments cannot cover (dead-lettered with its reason, nothing credited)."""
from __future__ import annotations

import asyncpg
import pytest

from ansinh.runtime.migrations import migrations_for
from tests.integration.collection.conftest import declaration, remittance
from tests.kafka_helpers import header

pytestmark = pytest.mark.integration

async def _paid_in_full(collection) -> None:
    """3,200,000 owed for 2025-07, paid by P1 (2,000,000 on 08-10) then P2 (1,200,000 on 08-20)."""
    await collection.declare(declaration(period="2025-07", salary=10_000_000))
    await collection.events("collection.assessments", expect=1)
    await collection.pay(remittance("P1", 2_000_000, value_date="2025-08-10"))
    await collection.events("collection.allocations", expect=1)
    await collection.pay(remittance("P2", 1_200_000, value_date="2025-08-20"))
    await collection.events("collection.allocations", expect=2)


async def _backfill(collection) -> None:
    """Run migration 0004's statement, as the migration runner does (the service's role, its schema)."""
    [migration] = [m for m in migrations_for("collection") if m.version.startswith("0004_")]
    conn = await asyncpg.connect(collection.isolated.service("collection").service_database_url)
    try:
        async with conn.transaction():
            await conn.execute(f"SET LOCAL search_path = collection; {migration.path.read_text()}")
    finally:
        await conn.close()


async def test_a_release_made_before_payment_history_gets_released_rows_from_the_newest_payment(collection):
    await _paid_in_full(collection)
    # What the code before migration 0002 left after halving the salary: paid lowered, the allocation rows
    # untouched, the freed money in a lot of its own (retirement: 2,200,000 paid, 1,100,000 freed).
    await collection.sql("UPDATE collection.obligations SET assessed = assessed - 1100000, paid = paid - 1100000 "
                         "WHERE fund = 'retirement'")
    await collection.sql("INSERT INTO collection.credit_lots VALUES ('DN0001', 'released-2025-07-retirement-1a2b', "
                         "'2025-09-01', 1100000)")
    await _backfill(collection)
    await _backfill(collection)  # again: nothing more to do

    releases = await collection.sql("SELECT payment_id, fund, amount, value_date FROM collection.allocations "
                                    "WHERE kind = 'released'")
    # Retirement was paid by P1 (1,000,000), then P2 (1,200,000): the newest money, P2's, is what went back.
    assert [(r["payment_id"], r["fund"], r["amount"], r["value_date"].isoformat()) for r in releases] == [
        ("P2", "retirement", -1_100_000, "2025-08-20")]
    mismatched = await collection.sql(
        """SELECT o.fund FROM collection.obligations o WHERE o.paid <> (SELECT coalesce(sum(a.amount), 0)
           FROM collection.allocations a WHERE (a.employer_code, a.period, a.fund) = (o.employer_code, o.period,
           o.fund))""")
    assert [r["fund"] for r in mismatched] == []


async def test_a_downward_revision_the_recorded_payments_cannot_cover_is_dead_lettered_with_its_reason(collection):
    await _paid_in_full(collection)
    # A broken history: P2's allocation rows are gone, so less is recorded as paid than `paid` says.
    await collection.sql("DELETE FROM collection.allocations WHERE payment_id = 'P2'")
    lowered = declaration(period="2025-07", salary=5_000_000, revision=1)
    await collection.declare(lowered)

    [dead] = await collection.dead("collection.declarations", expect=1)
    assert header(dead, "dlq.error_class") == "ReleaseNotCovered"
    assert header(dead, "dlq.reason").startswith("release_not_covered: a downward revision of DN0001 2025-07 ")
    assert "5000000" not in header(dead, "dlq.reason")  # the declared salary is not in the reason
    # Nothing of the revision was taken: the first revision stands, no credit was invented.
    assert [r["revision"] for r in await collection.sql("SELECT revision FROM collection.assessments")] == [0]
    assert await collection.sql("SELECT * FROM collection.credit_lots") == []
