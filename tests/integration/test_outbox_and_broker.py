"""The outbox publishes exactly once across a crash; the broker keeps every acknowledged message."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import asyncpg
import pytest

from ansinh.runtime import failpoints, outbox
from ansinh.runtime.database import prepare_schema
from ansinh.devplatform import kafka
from ansinh.ops.topics import ensure_topics
from ansinh.runtime.settings import REPO_ROOT, PlatformSettings
from schemas.benefits import ContactDetailsChanged
from tests.conftest import free_port
from tests.kafka_helpers import publish, read_topic

pytestmark = pytest.mark.integration


def flush(isolated, failpoint: str | None = None) -> subprocess.CompletedProcess:
    env = isolated.env(ANSINH_FAILPOINTS=failpoint or "")
    return subprocess.run([sys.executable, "-m", "ansinh.cli", "outbox", "flush", "arrears"], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


async def commit_events(settings, count: int, key: str = "0123456789") -> list[uuid.UUID]:
    events = [outbox.event("collection.allocations", key,
                           ContactDetailsChanged(participant_code=key, email=f"n{i}@example.vn"), "test")
              for i in range(count)]
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        async with conn.transaction():
            await outbox.append(conn, settings.schema, events)
    finally:
        await conn.close()
    return [e.event_id for e in events]


async def test_an_event_committed_before_a_crash_is_published_exactly_once_after_restart(isolated):
    settings = isolated.service("arrears")
    await prepare_schema(settings)
    [event_id] = await commit_events(settings, 1)
    crashed = flush(isolated, "outbox.after_fetch")
    assert crashed.returncode == failpoints.EXIT_CODE, crashed.stderr
    topic = isolated.topic("collection.allocations")
    assert await read_topic(isolated.bootstrap, topic, expect=1, timeout=2) == []
    restarted = flush(isolated)
    assert restarted.returncode == 0, restarted.stderr
    assert flush(isolated).returncode == 0  # nothing left: a second run publishes nothing more
    records = await read_topic(isolated.bootstrap, topic, expect=2, timeout=5)
    assert [json.loads(r.value)["event_id"] for r in records] == [str(event_id)]
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM arrears.outbox WHERE published_at IS NULL") == 0
    finally:
        await conn.close()


async def test_a_crash_after_publishing_republishes_with_the_same_event_id(isolated):
    settings = isolated.service("arrears")
    await prepare_schema(settings)
    [event_id] = await commit_events(settings, 1)
    assert flush(isolated, "outbox.after_publish").returncode == failpoints.EXIT_CODE
    assert flush(isolated).returncode == 0
    records = await read_topic(isolated.bootstrap, isolated.topic("collection.allocations"), expect=2)
    # At-least-once on the wire; consumers deduplicate on the event id, which is identical.
    assert [json.loads(r.value)["event_id"] for r in records] == [str(event_id)] * 2


async def test_events_with_the_same_key_are_published_in_commit_order(isolated):
    settings = isolated.service("arrears")
    await prepare_schema(settings)
    ids = await commit_events(settings, 120)
    assert flush(isolated).returncode == 0
    records = await read_topic(isolated.bootstrap, isolated.topic("collection.allocations"), expect=120)
    assert [json.loads(r.value)["event_id"] for r in records] == [str(i) for i in ids]
    assert {r.headers[0] for r in records} == {("type", b"ContactDetailsChanged")}


@pytest.fixture
def private_kafka():
    """A broker of our own on free ports: the test stops it, while the shared one keeps serving the rest."""
    state = Path(tempfile.mkdtemp(prefix="ansinh-broker-"))
    settings = PlatformSettings(kafka_port=free_port(), kafka_controller_port=free_port(), state_dir=state,
                                kafka_bootstrap="")
    shared_libs = PlatformSettings().state_dir / "kafka" / settings.kafka_version / "libs"
    if (shared_libs / ".complete").exists():  # reuse the jars instead of resolving them again
        private_libs = kafka.KafkaPaths.of(settings).libs
        private_libs.parent.mkdir(parents=True)
        private_libs.symlink_to(shared_libs.resolve(), target_is_directory=True)
    try:
        kafka.start_kafka(settings)
        yield settings
    finally:
        kafka.stop_kafka(settings)
        shutil.rmtree(state, ignore_errors=True)


async def test_a_broker_restart_loses_no_acknowledged_message(private_kafka):
    await ensure_topics(private_kafka.kafka_bootstrap, "r.")
    topic = "r.payments.bank-status"
    items = [(f"k{i % 7}".encode(), f"message {i}".encode()) for i in range(500)]
    await publish(private_kafka.kafka_bootstrap, topic, items)  # acks=all: each of these was acknowledged
    assert kafka.stop_kafka(private_kafka)
    assert not kafka.kafka_running(private_kafka)
    kafka.start_kafka(private_kafka)
    records = await read_topic(private_kafka.kafka_bootstrap, topic, expect=500, timeout=60)
    assert sorted(r.value for r in records) == sorted(v for _, v in items)
