"""Money a downward revision frees goes back to the payments that paid it, with their own ids and value dates
(arrears computes interest from those dates), and the history of where each payment's money went adds up."""
from __future__ import annotations

import pytest

from tests.integration.collection.conftest import declaration, remittance
from tests.integration.collection.test_remittances import lines
from tests.integration.collection.test_suspense import wait_for_metric

pytestmark = pytest.mark.integration


async def test_a_downward_revision_returns_the_newest_payments_money_to_credit_with_its_own_value_date(collection):
    await collection.declare(declaration(period="2025-07", salary=10_000_000))  # 3,200,000 owed
    await collection.events("collection.assessments", expect=1)
    await collection.pay(remittance("P1", 2_000_000, value_date="2025-08-10"))
    await collection.events("collection.allocations", expect=1)
    await collection.pay(remittance("P2", 1_200_000, value_date="2025-08-20"))
    await collection.events("collection.allocations", expect=2)

    # Halved: every fund now owes half of what was paid. Each obligation gives back its newest money first:
    # retirement was paid by P1 (1,000,000) then P2 (1,200,000), so its 1,100,000 comes from P2; the other
    # funds were paid by P1 alone.
    await collection.declare(declaration(period="2025-07", salary=5_000_000, revision=1))
    await wait_for_metric(collection, b'collection_released_vnd_total{fund="retirement"} 1.1e+06')
    lots = await collection.sql("SELECT payment_id, value_date, remaining FROM collection.credit_lots "
                                "ORDER BY payment_id")
    assert [(l["payment_id"], l["value_date"].isoformat(), l["remaining"]) for l in lots] == [
        ("P1", "2025-08-10", 225_000 + 100_000 + 25_000 + 150_000), ("P2", "2025-08-20", 1_100_000)]
    releases = await collection.sql("SELECT payment_id, fund, amount, value_date FROM collection.allocations "
                                    "WHERE kind = 'released' ORDER BY fund")
    assert [(r["payment_id"], r["fund"], r["amount"]) for r in releases] == [
        ("P1", "accident", -25_000), ("P1", "health", -225_000), ("P2", "retirement", -1_100_000),
        ("P1", "sickness_maternity", -150_000), ("P1", "unemployment", -100_000)]
    # For every payment: what its allocations still hold plus its credit is exactly what it brought.
    per_payment = await collection.sql(
        """SELECT r.payment_id, r.amount, coalesce((SELECT sum(a.amount) FROM collection.allocations a
                                                     WHERE a.payment_id = r.payment_id), 0)
                                         + coalesce((SELECT sum(l.remaining) FROM collection.credit_lots l
                                                     WHERE l.payment_id = r.payment_id), 0) AS accounted
           FROM collection.remittances r ORDER BY r.payment_id""")
    assert [(p["payment_id"], p["amount"], p["accounted"]) for p in per_payment] == [
        ("P1", 2_000_000, 2_000_000), ("P2", 1_200_000, 1_200_000)]

    # The next month's contributions are paid from that credit, oldest money first, each under its own date.
    await collection.declare(declaration(period="2025-08", salary=10_000_000))
    events = await collection.events("collection.allocations", expect=4)
    from_credit = [(e["payload"]["payment_id"], e["payload"]["value_date"], lines(e)) for e in events[2:]]
    assert from_credit == [
        ("P1", "2025-08-10", [("2025-08", "health", 450_000), ("2025-08", "unemployment", 50_000)]),
        ("P2", "2025-08-20", [("2025-08", "unemployment", 150_000), ("2025-08", "accident", 50_000),
                              ("2025-08", "sickness_maternity", 300_000), ("2025-08", "retirement", 600_000)])]
