"""Inbox and published outbox rows are pruned after the retention, and only then; unpublished outbox rows
never are. Real database (and, for the wiring, a real service process)."""
from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import timedelta

import asyncpg
import pytest
from prometheus_client import REGISTRY

from ansinh.runtime.database import create_pool, prepare_schema
from ansinh.runtime.prune import Pruner, minimum_retention, retention
from ansinh.runtime.settings import REPO_ROOT, ServiceSettings
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration

SERVICE = "arrears"
KEEP = retention(SERVICE, None)


async def add_inbox(conn, count: int, age: timedelta) -> set[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    await conn.executemany("INSERT INTO inbox (consumer, event_id, processed_at) "
                           "VALUES ('test', $1, now() - $2::interval)", [(i, age) for i in ids])
    return set(ids)


async def add_outbox(conn, count: int, age: timedelta, published: bool = True) -> set[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    await conn.executemany(
        "INSERT INTO outbox (event_id, topic, key, value, created_at, published_at) "
        "VALUES ($1, 'collection.allocations', 'k', '{}', now() - $2::interval, "
        "CASE WHEN $3::bool THEN now() - $2::interval END)",
        [(i, age, published) for i in ids])
    return set(ids)


async def remaining(conn, table: str) -> set[uuid.UUID]:
    return {r["event_id"] for r in await conn.fetch(f"SELECT event_id FROM {table}")}


def pruned_total(table: str) -> float:
    return REGISTRY.get_sample_value("ansinh_pruned_rows_total", {"service": SERVICE, "table": table}) or 0.0


async def test_rows_older_than_the_retention_are_pruned_and_younger_or_unpublished_ones_are_kept(isolated):
    settings = isolated.service(SERVICE)
    await prepare_schema(settings)
    pool = await create_pool(settings)
    try:
        async with pool.acquire() as conn:
            await add_inbox(conn, 23, KEEP + timedelta(days=1))
            young_inbox = await add_inbox(conn, 5, KEEP - timedelta(hours=1)) | await add_inbox(conn, 3, timedelta(0))
            await add_outbox(conn, 17, KEEP + timedelta(days=1))
            young_outbox = await add_outbox(conn, 4, KEEP - timedelta(hours=1))
            unpublished = await add_outbox(conn, 3, KEEP * 4, published=False)
        before = pruned_total("inbox"), pruned_total("outbox")

        pruner = Pruner(pool, settings.schema, SERVICE, KEEP, batch_size=5)  # several batches per table
        assert await pruner.prune_once() == {"inbox": 23, "outbox": 17}

        async with pool.acquire() as conn:
            assert await remaining(conn, "inbox") == young_inbox
            assert await remaining(conn, "outbox") == young_outbox | unpublished
        assert (pruned_total("inbox") - before[0], pruned_total("outbox") - before[1]) == (23, 17)
        assert await pruner.prune_once() == {"inbox": 0, "outbox": 0}
    finally:
        await pool.close()


async def test_only_one_pruner_works_on_a_schema_at_a_time(isolated):
    settings = isolated.service(SERVICE)
    await prepare_schema(settings)
    pool = await create_pool(settings)
    other = await asyncpg.connect(settings.service_database_url)
    try:
        async with pool.acquire() as conn:
            old = await add_inbox(conn, 4, KEEP + timedelta(days=1))
        pruner = Pruner(pool, settings.schema, SERVICE, KEEP)
        await other.execute("SELECT pg_advisory_lock(hashtext($1))", f"{settings.schema}.prune")  # another pruner
        assert await pruner.prune_once() is None
        async with pool.acquire() as conn:
            assert await remaining(conn, "inbox") == old
        await other.execute("SELECT pg_advisory_unlock(hashtext($1))", f"{settings.schema}.prune")
        assert await pruner.prune_once() == {"inbox": 4, "outbox": 0}
    finally:
        await other.close()
        await pool.close()


def test_the_default_retention_covers_the_topics_and_the_dlq_plus_a_margin():
    # collection.assessments and .allocations keep 14 days, their DLQs 30: a dead letter replayed on its
    # last day sits on the topic 14 more days.
    assert minimum_retention(SERVICE) == timedelta(days=44)
    assert KEEP > minimum_retention(SERVICE)
    assert ServiceSettings(service=SERVICE, inbox_retention_days=44).inbox_retention_days == 44


def test_a_retention_shorter_than_a_replay_needs_is_refused(monkeypatch):
    monkeypatch.setenv("ANSINH_INBOX_RETENTION_DAYS", "10")
    with pytest.raises(ValueError, match=r"ANSINH_INBOX_RETENTION_DAYS=10 is too short for arrears.*at least 44"):
        ServiceSettings(service=SERVICE)


def test_a_service_refuses_to_start_with_a_retention_too_short(isolated):
    started = subprocess.run([sys.executable, "-m", f"services.{SERVICE}"], cwd=REPO_ROOT, timeout=120,
                             env=isolated.env(ANSINH_INBOX_RETENTION_DAYS="10"), capture_output=True, text=True)
    assert started.returncode != 0
    assert "ANSINH_INBOX_RETENTION_DAYS=10 is too short for arrears" in started.stderr, started.stderr[-2000:]


async def test_a_running_service_prunes_on_its_interval_and_counts_what_it_pruned(isolated):
    settings = isolated.service(SERVICE)
    service = isolated.start_service(SERVICE, ANSINH_PRUNE_INTERVAL_S="0.5")
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        young = await add_inbox(conn, 2, timedelta(days=1))
        await add_inbox(conn, 7, KEEP + timedelta(days=1))  # after start-up: pruned by a later round
        await add_outbox(conn, 6, KEEP + timedelta(days=1))
        async def left():
            return await remaining(conn, "inbox"), len(await remaining(conn, "outbox"))

        assert await eventually_async(left, 30, until=lambda seen: seen == (young, 0),
                                      what="old rows pruned, young ones kept") == (young, 0)
    finally:
        await conn.close()
    status, body = service.get("/metrics")
    assert status == 200
    counted = {m.group(1): float(m.group(2)) for m in re.finditer(
        r'ansinh_pruned_rows_total\{service="arrears",table="(\w+)"\} (\S+)', body.decode())}
    assert counted == {"inbox": 7.0, "outbox": 6.0}
