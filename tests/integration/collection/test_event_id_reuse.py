"""An event id reused for different content (a producer bug) through the real broker and database:
refused loudly, alone, never dropped as a duplicate; a true redelivery stays silent.

Declarations are read by the bulk source (with ``prepare``), remittances by a faust agent: both paths.
"""
from __future__ import annotations

import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from schemas.envelope import encode
from tests.integration.collection.conftest import declaration, remittance
from tests.kafka_helpers import header

pytestmark = pytest.mark.integration

REUSED = "already used for different content"


def resent(envelope: dict) -> dict:
    """The same event sent again by the producer: same id and facts, new timestamp and correlation id."""
    return {**envelope, "occurred_at": "2025-09-14T08:00:00+07:00", "correlation_id": str(uuid.uuid4())}


def changed(envelope: dict, **payload) -> dict:
    """Another event under the same id: what a producer reusing ids sends."""
    return {**envelope, "payload": {**envelope["payload"], **payload}}


def dead_letters_counted(collection, topic: str) -> float:
    status, body = collection.service.get("/metrics")
    assert status == 200
    return sum(s.value for family in text_string_to_metric_families(body.decode()) for s in family.samples
               if s.name == "ansinh_dlq_messages_total" and s.labels.get("topic") == topic
               and s.labels.get("error_class") == "EventIdReused" and s.labels.get("stage") == "transaction")


def assert_refused_for_reuse(record, event_id: str, *values: str) -> None:
    reason = header(record, "dlq.reason")
    assert f"event id {event_id} {REUSED}" in reason, reason
    assert (header(record, "dlq.stage"), header(record, "dlq.error_class")) == ("transaction", "EventIdReused")
    assert not any(v in reason for v in values), reason  # no value of the message, personal or money


async def test_a_declaration_id_reused_with_another_salary_is_dead_lettered_and_the_rest_of_its_batch_is_assessed(
        collection):
    first = declaration("0000000001", 10_000_000)
    await collection.declare(first)
    await collection.events("collection.assessments", expect=1)

    reused = changed(first, contribution_salary=12_000_000)
    await collection.declare(declaration("0000000002", 20_000_000), reused, resent(first),
                             declaration("0000000003", 30_000_000))

    [dead] = await collection.dead("collection.declarations", expect=1)
    assert_refused_for_reuse(dead, first["event_id"], "12000000", "001090012345", "Lê Văn Cường")
    assert dead.value == encode(reused)  # the original bytes
    events = await collection.events("collection.assessments", expect=3)
    assert sorted(e["payload"]["worker_code"] for e in events) == ["0000000001", "0000000002", "0000000003"]
    rows = await collection.sql("SELECT worker_code, declared_salary FROM collection.assessments "
                                "ORDER BY worker_code")
    assert [(r["worker_code"], r["declared_salary"]) for r in rows] == [
        ("0000000001", 10_000_000), ("0000000002", 20_000_000), ("0000000003", 30_000_000)]  # first content kept
    assert dead_letters_counted(collection, "collection.declarations") == 1


async def test_a_remittance_id_reused_with_another_amount_is_dead_lettered_and_the_rest_of_its_batch_is_taken(
        collection):
    await collection.declare(declaration())
    await collection.events("collection.assessments", expect=1)
    first = remittance("P1", 1_000_000)
    await collection.pay(first)
    await collection.events("collection.allocations", expect=1)

    reused = changed(first, amount=9_000_000)
    await collection.pay(remittance("P2", 500_000), reused, resent(first), remittance("P3", 700_000))

    [dead] = await collection.dead("collection.remittances", expect=1)
    assert_refused_for_reuse(dead, first["event_id"], "9000000", "P1")
    rows = await collection.sql("SELECT payment_id, amount FROM collection.remittances ORDER BY payment_id")
    assert [(r["payment_id"], r["amount"]) for r in rows] == [("P1", 1_000_000), ("P2", 500_000), ("P3", 700_000)]
    [paid] = await collection.sql("SELECT sum(amount) AS total FROM collection.allocations")
    assert paid["total"] == 2_200_000  # 3,200,000 owed: P1 + P2 + P3, nothing of the refused 9,000,000
    assert dead_letters_counted(collection, "collection.remittances") == 1


async def test_a_true_redelivery_stays_a_silent_duplicate(collection):
    first = remittance("P1", 1_000_000)
    await collection.pay(first)
    await collection.pay(resent(first), first)
    await collection.isolated.wait_until_idle("collection")
    rows = await collection.sql("SELECT payment_id, amount FROM collection.remittances")
    assert [(r["payment_id"], r["amount"]) for r in rows] == [("P1", 1_000_000)]
    [claimed] = await collection.sql("SELECT count(*) AS n, bool_and(digest IS NOT NULL) AS digested "
                                     "FROM collection.inbox WHERE consumer = 'collection.remittances'")
    assert (claimed["n"], claimed["digested"]) == (1, True)
    assert dead_letters_counted(collection, "collection.remittances") == 0
