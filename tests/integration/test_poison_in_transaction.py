"""A message that passes its contract but makes its transaction fail, through a running service, the real
broker and the real database: it alone is dead-lettered (with its stage and a reason that names the
constraint, not the value), every other message of its batch is committed, and the consumer goes on.

The failure is a real database refusal: a CHECK constraint the test adds to the service's own table
(a stand-in for any row the database refuses, whatever the contract let through).
"""
from __future__ import annotations

import re

import asyncpg
import pytest

from ansinh.runtime.database import prepare_schema
from schemas.benefits import ContactDetailsChanged
from schemas.envelope import encode, new_envelope
from tests.integration.collection.conftest import declaration
from tests.kafka_helpers import header, publish, read_topic
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration
POISON = "9999999999"


async def eventually(fetch, expected, timeout: float = 30.0):
    """Poll ``fetch()`` until it returns ``expected`` (and return it); fails with what was last seen."""
    return await eventually_async(fetch, timeout, until=lambda value: value == expected, what=f"{expected!r}")


def bisections(service, topic: str) -> float:
    status, body = service.get("/metrics")
    assert status == 200
    found = re.search(rf'ansinh_batch_bisections_total{{service="[a-z]+",topic="{re.escape(topic)}"}} ([0-9.]+)',
                      body.decode())
    return float(found.group(1)) if found else 0.0


async def with_check(settings, table: str, condition: str):
    """Prepare the service's schema and add a CHECK constraint ``refuse_probe`` to ``table``."""
    await prepare_schema(settings)
    conn = await asyncpg.connect(settings.service_database_url)
    await conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT refuse_probe CHECK ({condition}) NOT VALID")
    return conn


async def test_a_message_the_database_refuses_is_dead_lettered_alone_and_its_batch_is_parked(isolated):
    """The faust agent path (notifications storing contacts, all of a batch in one statement)."""
    conn = await with_check(isolated.service("notifications"), "notifications.contacts",
                            f"participant_code <> '{POISON}'")
    topic = isolated.topic("participants.contacts")
    codes = [f"10000000{i:02d}" for i in range(20)]
    codes[13] = POISON
    envelopes = {code: encode(new_envelope(ContactDetailsChanged(participant_code=code, phone="+84912345678"),
                                           "participant-registry")) for code in codes}
    try:
        await publish(isolated.bootstrap, topic, [(b"one-key", envelopes[code]) for code in codes])
        service = isolated.start_service("notifications")  # started after: the 20 arrive as one batch

        async def parked():
            rows = await conn.fetch("SELECT participant_code AS code FROM notifications.contacts")
            return sorted(r["code"] for r in rows)

        expected = sorted(c for c in codes if c != POISON)
        assert await eventually(parked, expected) == expected
        [dead] = await read_topic(isolated.bootstrap, topic + ".dlq", expect=1, settle=1.0)
        assert dead.value == envelopes[POISON]
        assert header(dead, "dlq.stage") == "transaction"
        assert header(dead, "dlq.error_class") == "CheckViolationError"
        reason = header(dead, "dlq.reason")
        assert "SQLSTATE 23514" in reason and "refuse_probe" in reason and POISON not in reason
        assert bisections(service, "participants.contacts") >= 1

        later = encode(new_envelope(ContactDetailsChanged(participant_code="2000000000", phone="+84912345678"),
                                    "participant-registry"))
        await publish(isolated.bootstrap, topic, [(b"one-key", later)])
        assert await eventually(parked, sorted(expected + ["2000000000"])) == sorted(expected + ["2000000000"])
        assert service.get("/ready")[0] == 200
    finally:
        await conn.close()


async def test_a_declaration_the_database_refuses_is_dead_lettered_alone_and_the_others_are_assessed(isolated):
    """The bulk path (aiokafka batches, prepare while the previous transaction runs)."""
    conn = await with_check(isolated.service("collection"), "collection.assessments", "worker_code <> '0000000666'")
    workers = [f"00000001{i:02d}" for i in range(30)]
    workers[17] = "0000000666"
    topic = isolated.topic("collection.declarations")
    envelopes = [declaration(worker=w) for w in workers]
    try:
        await publish(isolated.bootstrap, topic, [(b"DN0001", encode(e)) for e in envelopes])
        service = isolated.start_service("collection", ANSINH_BUSINESS_DATE="2025-09-15")

        async def assessed():
            return sorted(r["worker_code"] for r in await conn.fetch("SELECT worker_code FROM collection.assessments"))

        expected = sorted(w for w in workers if w != "0000000666")
        assert await eventually(assessed, expected) == expected
        [dead] = await read_topic(isolated.bootstrap, topic + ".dlq", expect=1, settle=1.0)
        assert dead.value == encode(envelopes[17])
        assert header(dead, "dlq.stage") == "transaction"
        reason = header(dead, "dlq.reason")
        assert "SQLSTATE 23514" in reason and "refuse_probe" in reason and "0000000666" not in reason
        assert "001090012345" not in reason  # the citizen id of the declaration

        await publish(isolated.bootstrap, topic, [(b"DN0001", encode(declaration(worker="0000000777")))])
        after = sorted(expected + ["0000000777"])
        assert await eventually(assessed, after) == after
        assert service.get("/ready")[0] == 200
    finally:
        await conn.close()
