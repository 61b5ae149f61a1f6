"""The same event twice inside one batch (a producer's retry landing next to the original) is applied once."""
from __future__ import annotations

import pytest

from tests.integration.collection.conftest import declaration, remittance

pytestmark = pytest.mark.integration


async def test_a_declaration_sent_twice_in_one_batch_is_assessed_once(collection):
    twice = declaration("0000000001", 10_000_000)
    await collection.declare(twice, twice, declaration("0000000002", 20_000_000))
    events = await collection.events("collection.assessments", expect=2)
    assert sorted(e["payload"]["worker_code"] for e in events) == ["0000000001", "0000000002"]
    [row] = await collection.sql("SELECT sum(assessed)::bigint AS assessed FROM collection.obligations")
    assert row["assessed"] == sum(e["payload"]["total"] for e in events)


async def test_a_remittance_sent_twice_in_one_batch_is_taken_once(collection):
    await collection.declare(declaration("0000000001", 10_000_000))
    await collection.events("collection.assessments", expect=1)
    payment = remittance("P-TWICE", 1_000_000)
    await collection.pay(payment, payment)
    await collection.events("collection.allocations", expect=1)
    [row] = await collection.sql("SELECT count(*) AS n, sum(amount)::bigint AS amount FROM collection.remittances")
    assert (row["n"], row["amount"]) == (1, 1_000_000)
    [row] = await collection.sql("SELECT sum(amount)::bigint AS allocated FROM collection.allocations")
    assert row["allocated"] == 1_000_000
