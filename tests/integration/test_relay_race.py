"""Exactly one outbox relay publishes per schema: two relays racing with an `outbox flush` between them,
and a relay whose database session is killed under it. Real broker, real database, real relays.

Writers commit events for a handful of keys concurrently, each key's writers serialized by a row lock (as
the services do), each event carrying its key's sequence number. Ids therefore commit out of order across
keys, never within one.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

import asyncpg
import pytest
from prometheus_client import REGISTRY

from ansinh.runtime import health, outbox
from ansinh.runtime.database import connect, create_pool, prepare_schema
from ansinh.runtime.outbox import OutboxRelay, new_producer
from ansinh.runtime.settings import REPO_ROOT
from schemas.benefits import ContactDetailsChanged
from tests.kafka_helpers import read_topic
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration

SERVICE, TOPIC = "arrears", "collection.allocations"
KEYS = [f"{k:010d}" for k in range(5)]


@dataclass(frozen=True)
class Cycle:
    relay: str
    start: float
    end: float
    events: int


class RecordingRelay(OutboxRelay):
    """A real relay that notes each publish cycle (fetch to mark) it completed, and when."""

    def __init__(self, name: str, cycles: list[Cycle], *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name, self.cycles = name, cycles

    async def publish_pending(self, conn, up_to: int | None = None) -> int:
        start = time.monotonic()
        published = await super().publish_pending(conn, up_to)
        if published:
            self.cycles.append(Cycle(self.name, start, time.monotonic(), published))
        return published


class Relays:
    """Named relays of one schema, each with its own connections (application_name = its name) and producer."""

    def __init__(self, settings, cycles: list[Cycle]):
        self.settings, self.cycles = settings, cycles
        self.running: dict[str, tuple[asyncio.Event, asyncio.Task]] = {}
        self.made: dict[str, RecordingRelay] = {}
        self.closers: list = []

    async def start(self, name: str, lock_wait_s: float = 0.2) -> None:
        if name not in self.made:
            s = self.settings
            producer = new_producer(s.kafka_bootstrap)
            await producer.start()
            self.closers.append(producer.stop)
            # Metrics and readiness labelled by the relay's name, as two processes would keep them apart.
            self.made[name] = RecordingRelay(name, self.cycles, lambda: connect(s, name), s.schema, producer,
                                             s.topic, name, batch_size=20, lock_wait_s=lock_wait_s)
        stopping = asyncio.Event()
        self.running[name] = (stopping, asyncio.create_task(self.made[name].run(stopping)))

    async def stop(self, name: str) -> None:
        stopping, task = self.running.pop(name)
        stopping.set()
        await asyncio.wait_for(task, 30)

    async def close(self) -> None:
        for name in list(self.running):
            await self.stop(name)
        for close in reversed(self.closers):
            await close()


class Writers:
    """Concurrent writers committing one event per transaction, ``seq`` per key under the key's row lock."""

    def __init__(self, settings, count: int = 4):
        self.settings, self.count = settings, count
        self.done = asyncio.Event()
        self.tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        conn = await asyncpg.connect(self.settings.service_database_url)
        await conn.execute("CREATE TABLE key_sequence (key text PRIMARY KEY, n int NOT NULL)")
        await conn.close()
        self.pool = await create_pool(self.settings, min_size=self.count, max_size=self.count)
        self.tasks = [asyncio.create_task(self._write(w)) for w in range(self.count)]

    async def _write(self, writer: int) -> None:
        i = writer
        while not self.done.is_set():
            key = KEYS[i % len(KEYS)]
            i += 1
            async with self.pool.acquire() as conn, conn.transaction():
                seq = await conn.fetchval(  # the row lock serializes this key's writers, as in the services
                    "INSERT INTO key_sequence VALUES ($1, 0) ON CONFLICT (key) DO UPDATE "
                    "SET n = key_sequence.n + 1 RETURNING n", key)
                await outbox.append(conn, SERVICE, [outbox.event_from_dict(
                    TOPIC, key, ContactDetailsChanged, {"participant_code": key, "seq": seq}, "relay-race-test")])
            await asyncio.sleep(0.002)

    async def stop(self) -> dict[str, int]:
        """Stop writing; returns how many events each key got."""
        self.done.set()
        await asyncio.gather(*self.tasks)
        async with self.pool.acquire() as conn:
            counts = {r["key"]: r["n"] + 1 for r in await conn.fetch("SELECT key, n FROM key_sequence")}
        await self.pool.close()
        return counts


async def scalar(settings, sql: str, *args):
    conn = await asyncpg.connect(settings.service_database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def wait_for(what: str, check, timeout: float = 30.0):
    """Poll ``check`` (sync or async) until it returns something truthy; fail with what it last returned."""
    return await eventually_async(check, timeout, interval=0.05, what=what)


async def holder(settings) -> str | None:
    """The application name of the session holding the schema's relay lock."""
    return await scalar(settings, (
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.locktype = "
        "'advisory' AND l.granted AND l.objsubid = 1 AND l.objid::bigint = (hashtext($1)::bigint & 4294967295) "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"), f"{SERVICE}.outbox")


async def holds(settings, relay: str) -> bool:
    return await holder(settings) == relay


def locks_lost(relay: str) -> float:
    return REGISTRY.get_sample_value("ansinh_outbox_relay_lock_lost_total", {"service": relay}) or 0.0


def published_since(cycles: list[Cycle], relay: str, since: float) -> int:
    return sum(c.events for c in cycles if c.relay == relay and c.start >= since)


async def flush(isolated) -> subprocess.CompletedProcess:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "ansinh.cli", "outbox", "flush", SERVICE,
                                                cwd=REPO_ROOT, env=isolated.env(COLUMNS="300"),
                                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return subprocess.CompletedProcess(["ansinh", "outbox", "flush", SERVICE], proc.returncode, out.decode(),
                                       err.decode())


async def topic_by_key(isolated, total: int, settle: float = 1.0) -> dict[str, list[int]]:
    """Each key's sequence numbers as they stand on the topic (a key keeps to one partition)."""
    records = await read_topic(isolated.bootstrap, isolated.topic(TOPIC), expect=total, timeout=60, settle=settle)
    by_key: dict[str, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        by_key[r.key.decode()].append(json.loads(r.value)["payload"]["seq"])
    return by_key


def first_occurrences(seqs: list[int]) -> list[int]:
    return list(dict.fromkeys(seqs))


def assert_no_overlap(cycles: list[Cycle]) -> None:
    ordered = sorted(cycles, key=lambda c: c.start)
    for before, after in zip(ordered, ordered[1:]):
        assert after.start >= before.end, f"two relays published at once: {before} and {after}"


async def test_two_racing_relays_and_a_flush_publish_every_event_once_in_key_order(isolated):
    settings = isolated.service(SERVICE)
    await prepare_schema(settings)
    cycles: list[Cycle] = []
    relays, writers = Relays(settings, cycles), Writers(settings)
    await writers.start()
    try:
        await relays.start("relay-a")
        await relays.start("relay-b")
        first = await wait_for("a relay to hold the lock and publish", lambda: holder(settings))
        await wait_for("100 events published", lambda: scalar(
            settings, "SELECT count(*) >= 100 FROM outbox WHERE published_at IS NOT NULL"))

        # The active relay stops; the waiting one takes over; the stopped one comes back and waits.
        other = "relay-b" if first == "relay-a" else "relay-a"
        stopped_at = time.monotonic()
        await relays.stop(first)
        await wait_for(f"{other} to take over", lambda: published_since(cycles, other, stopped_at))
        await relays.start(first)

        # A flush while a relay is active publishes nothing and says so.
        refused = await flush(isolated)
        assert refused.returncode == 0, refused.stderr
        assert "a relay is active" in refused.stdout and "relay-" in refused.stdout, refused.stdout

        # With both relays stopped, the flush takes the lock and publishes what is pending.
        await relays.stop("relay-a")
        await relays.stop("relay-b")
        await wait_for("events pending", lambda: scalar(
            settings, "SELECT count(*) >= 20 FROM outbox WHERE published_at IS NULL"))
        flushed = await flush(isolated)
        assert flushed.returncode == 0, flushed.stderr
        published = re.search(r"published (\d+) pending", flushed.stdout)
        assert published and int(published.group(1)) >= 20, flushed.stdout

        await relays.start("relay-a")
        await relays.start("relay-b")
        counts = await writers.stop()
        await wait_for("everything published", lambda: scalar(
            settings, "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
    finally:
        if not writers.done.is_set():
            await writers.stop()
        await relays.close()

    total = sum(counts.values())
    by_key = await topic_by_key(isolated, total)
    for key, count in counts.items():
        assert first_occurrences(by_key[key]) == list(range(count)), f"key {key} out of order on the topic"
    assert sum(len(s) for s in by_key.values()) == total, "an event was published twice"
    assert_no_overlap(cycles)
    assert {c.relay for c in cycles} == {"relay-a", "relay-b"}


async def test_a_relay_whose_database_session_is_killed_stops_publishing_and_another_takes_over(isolated):
    settings = isolated.service(SERVICE)
    await prepare_schema(settings)
    cycles: list[Cycle] = []
    relays, writers = Relays(settings, cycles), Writers(settings)
    lost_before = locks_lost("relay-a"), locks_lost("relay-b")
    await writers.start()
    try:
        await relays.start("relay-a")
        await wait_for("relay-a to hold the lock", lambda: published_since(cycles, "relay-a", 0))
        await relays.start("relay-b", lock_wait_s=5.0)  # queued in the server for the lock
        await wait_for("relay-b to wait for the lock", lambda: scalar(
            settings, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                      "WHERE a.application_name = 'relay-b' AND l.locktype = 'advisory' AND NOT l.granted"))

        admin = await asyncpg.connect(isolated.database_url)
        try:
            pid = await admin.fetchval("SELECT pid FROM pg_stat_activity a JOIN pg_locks l USING (pid) "
                                       "WHERE a.application_name = 'relay-a' AND l.locktype = 'advisory' AND l.granted")
            assert await admin.fetchval("SELECT pg_terminate_backend($1, 10000)", pid)
        finally:
            await admin.close()
        killed_at = time.monotonic()

        await wait_for("relay-b to hold the lock", lambda: holds(settings, "relay-b"))
        await wait_for("relay-b to publish", lambda: published_since(cycles, "relay-b", killed_at))
        await wait_for("relay-a to count its lost lock", lambda: locks_lost("relay-a") > lost_before[0])
        await wait_for("relay-a to wait for the lock again", lambda: scalar(
            settings, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                      "WHERE a.application_name = 'relay-a' AND l.locktype = 'advisory' AND NOT l.granted"))
        assert published_since(cycles, "relay-a", killed_at) == 0, "relay-a published without the lock"
        # Connected again and merely waiting: that fails nothing, so readiness does not stay red for it.
        await wait_for("relay-a's outage to be over", lambda: not health.of("relay-a").waiting_on)

        b_stopped_at = time.monotonic()
        await relays.stop("relay-b")
        await wait_for("relay-a to publish again once it holds the lock",
                       lambda: published_since(cycles, "relay-a", b_stopped_at))
        assert await holder(settings) == "relay-a"
        counts = await writers.stop()
        await wait_for("everything published", lambda: scalar(
            settings, "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
    finally:
        if not writers.done.is_set():
            await writers.stop()
        await relays.close()

    assert (locks_lost("relay-a"), locks_lost("relay-b")) == (lost_before[0] + 1, lost_before[1])
    by_key = await topic_by_key(isolated, sum(counts.values()))
    for key, count in counts.items():  # the batch in flight at the kill may be sent twice, never out of order
        assert first_occurrences(by_key[key]) == list(range(count)), f"key {key} out of order on the topic"


async def test_a_frozen_relay_loses_the_lock_to_the_server_and_another_relay_takes_over(isolated):
    # A relay process frozen (SIGSTOP: a stalled VM, a cut-off network) keeps its connection open: only
    # the server's idle_session_timeout frees the lock, here after 2 s.
    settings = isolated.service(SERVICE)
    await prepare_schema(settings)
    cycles: list[Cycle] = []
    relays, writers = Relays(settings, cycles), Writers(settings)
    await writers.start()
    log = open(isolated.platform.state_dir / f"test-{isolated.prefix}relay.log", "wb")
    frozen = subprocess.Popen([sys.executable, "-m", "ansinh.cli", "outbox", "relay", SERVICE], cwd=REPO_ROOT,
                              env=isolated.env(ANSINH_RELAY_SESSION_TIMEOUT_S="2"), stdout=log, stderr=log)
    isolated.processes.append(frozen)
    try:
        await wait_for("the relay process to hold the lock and publish", lambda: scalar(
            settings, "SELECT count(*) FILTER (WHERE published_at IS NOT NULL) > 0 FROM outbox"), timeout=60)
        assert await holder(settings) == f"ansinh-{SERVICE}-relay"
        os.kill(frozen.pid, signal.SIGSTOP)
        await relays.start("relay-b")
        await wait_for("relay-b to hold the lock", lambda: holds(settings, "relay-b"))
        await wait_for("relay-b to publish", lambda: published_since(cycles, "relay-b", 0))

        os.kill(frozen.pid, signal.SIGCONT)  # it wakes up without its session: it must wait for the lock again
        await wait_for("the thawed relay to wait for the lock", lambda: scalar(
            settings, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE "
                      f"a.application_name = 'ansinh-{SERVICE}-relay' AND l.locktype = 'advisory' AND NOT l.granted"))
        assert await holder(settings) == "relay-b"
        counts = await writers.stop()
        await wait_for("everything published", lambda: scalar(
            settings, "SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))
    finally:
        if frozen.poll() is None:
            os.kill(frozen.pid, signal.SIGCONT)
            frozen.terminate()
            frozen.wait(20)
        if not writers.done.is_set():
            await writers.stop()
        await relays.close()

    by_key = await topic_by_key(isolated, sum(counts.values()))
    for key, count in counts.items():
        assert first_occurrences(by_key[key]) == list(range(count)), f"key {key} out of order on the topic"
