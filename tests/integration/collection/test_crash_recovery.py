"""A collection service killed mid-stream loses nothing and assesses nothing twice after restart."""
from __future__ import annotations

import json
import re
import signal

import pytest

from schemas.envelope import encode
from tests.integration.collection.conftest import BUSINESS_DATE, declaration
from tests.waiting import eventually_async
from tests.kafka_helpers import publish, read_topic

pytestmark = pytest.mark.integration

COUNT = 6000


async def test_a_crash_mid_stream_neither_loses_nor_duplicates_an_assessment(isolated):
    envelopes = [declaration(worker=f"{i:010d}", employer=f"DN{i % 40:04d}") for i in range(COUNT)]
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE, ANSINH_BATCH_SIZE="300")
    topic = isolated.topic("collection.declarations")
    await publish(isolated.bootstrap, topic, [(e["payload"]["employer_code"].encode(), encode(e)) for e in envelopes])
    conn_settings = isolated.service("collection")
    import asyncpg
    conn = await asyncpg.connect(conn_settings.service_database_url)
    try:
        count = lambda: conn.fetchval("SELECT count(*) FROM collection.assessments")  # noqa: E731
        # Kill it once some, not all, are committed.
        done = await eventually_async(count, timeout=30, interval=0.05, until=lambda n: n >= 300,
                                      what="300 assessments committed")
        service.proc.send_signal(signal.SIGKILL)
        service.proc.wait(10)
        assert done < COUNT, "the service finished before it could be killed; raise COUNT"
        isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE, ANSINH_BATCH_SIZE="300")
        await eventually_async(count, timeout=60, until=lambda n: n == COUNT, what=f"{COUNT} assessments")
        await isolated.wait_until_idle("collection")
        assert await count() == COUNT
        assert await conn.fetchval("SELECT count(*) FROM collection.inbox") == COUNT
        owed = await conn.fetchval("SELECT sum(assessed) FROM collection.obligations")
        assert owed == COUNT * 3_200_000  # each declaration counted exactly once in the obligations
    finally:
        await conn.close()
    records = await read_topic(isolated.bootstrap, isolated.topic("collection.assessments"), COUNT, timeout=60)
    events = [json.loads(r.value) for r in records]
    assert len({e["event_id"] for e in events}) == COUNT  # an event may be re-sent, never re-made
    assert len({e["payload"]["worker_code"] for e in events}) == COUNT


async def test_a_graceful_stop_commits_what_was_processed_so_a_restart_reads_nothing_twice(isolated):
    import asyncpg

    first = [declaration(worker=f"{i:010d}") for i in range(500)]
    service = isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE)
    topic = isolated.topic("collection.declarations")
    await publish(isolated.bootstrap, topic, [(b"DN0001", encode(e)) for e in first])
    conn = await asyncpg.connect(isolated.service("collection").service_database_url)
    try:
        count = lambda: conn.fetchval("SELECT count(*) FROM collection.assessments")  # noqa: E731
        await eventually_async(count, timeout=30, until=lambda n: n == 500, what="the first 500 assessed")
        service.stop()  # SIGTERM
        assert service.proc.returncode is not None
        again = isolated.start_service("collection", ANSINH_BUSINESS_DATE=BUSINESS_DATE)
        await publish(isolated.bootstrap, topic, [(b"DN0001", encode(declaration(worker="9999999999")))])
        await eventually_async(count, timeout=30, until=lambda n: n == 501, what="the 501st assessed")
        await isolated.wait_until_idle("collection")
        assert await count() == 501
    finally:
        await conn.close()
    _, metrics = again.get("/metrics")
    assert b'collection_declarations_total{outcome="assessed"} 1.0' in metrics
    duplicates = re.search(rb'collection_declarations_total\{outcome="duplicate"\} ([0-9.]+)', metrics)
    assert duplicates is None or float(duplicates.group(1)) == 0  # the restarted service re-read nothing
