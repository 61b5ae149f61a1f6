"""Declarations per second, end to end, against a raw baseline on the same broker and database.

    .venv/bin/python -m bench.declarations [--count 200000] [--employers 2000]

System: publish N SalaryDeclared events; the collection service (a real process) consumes, assesses and
commits them with their inbox rows and outbox events; the relay publishes N ContributionAssessed events.
The clock stops when all N events are on ``collection.assessments`` and N assessment rows are committed.

Baseline, same N, same bytes: publish them; plain aiokafka consumes them; asyncpg COPYs equivalent rows
(one per declaration, the same columns) in batches of the same size; plain aiokafka produces equivalent
events. No validation, no law, no dedupe: the cost of moving the data, which the system cannot beat.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import date

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ansinh.devplatform import kafka, postgres
from ansinh.runtime.settings import REPO_ROOT, PlatformSettings, ServiceSettings
from ansinh.ops.topics import ensure_topics
from schemas.collection import SalaryDeclared
from schemas.envelope import encode, new_envelope

console = Console()
FUNDS = ["sickness_maternity", "accident", "retirement", "health", "unemployment"]


def make_declarations(count: int, employers: int, interleave: bool = False) -> list[tuple[bytes, bytes]]:
    """``count`` declarations from ``employers`` employers of varied size (1 to ~3x the mean).

    By default each employer's payroll is published together, as a payroll system submits it; with
    ``interleave`` consecutive declarations come from different employers (the worst case for batching).
    """
    out = []
    mean = max(1, count // employers)
    sizes = [max(1, (mean * (1 + (e * 7919) % 5)) // 3) for e in range(employers)]
    owners = [e for e, size in enumerate(sizes) for _ in range(size)]
    owners = (owners + list(range(employers)) * (count // employers + 1))[:count]
    if interleave:
        owners = [i % employers for i in range(count)]
    for i in range(count):
        employer = f"DN{owners[i]:06d}"
        message = SalaryDeclared(employer_code=employer, employer_tax_code="0101234567", region=1 + i % 4,
                                 period="2025-07", worker_code=f"{i:010d}", worker_name="Nguyễn Thị Hoa",
                                 citizen_id=f"{i:012d}", contribution_salary=5_000_000 + (i % 997) * 37_000,
                                 funds=FUNDS, revision=0)
        out.append((employer.encode(), encode(new_envelope(message, "bench"))))
    return out


async def publish_all(bootstrap: str, topic: str, items, progress=None, task=None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=20,
                                max_batch_size=1024 * 1024)
    await producer.start()
    try:
        pending = []
        for n, (key, value) in enumerate(items, 1):
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
                if progress:
                    progress.update(task, completed=n)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def count_topic(bootstrap: str, topic: str, target: int, progress, task, deadline_s: float = 1800) -> int:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=None, fetch_max_bytes=16 * 1024 * 1024)
    await consumer.start()
    seen = 0
    try:
        end = time.monotonic() + deadline_s
        while seen < target and time.monotonic() < end:
            for records in (await consumer.getmany(timeout_ms=500, max_records=20000)).values():
                seen += len(records)
            progress.update(task, completed=seen)
    finally:
        await consumer.stop()
    return seen


async def run_system(settings: PlatformSettings, prefix: str, db_url: str, items, batch: int,
                     instances: int = 1, relay: str = "inline") -> float:
    procs = []
    env = dict(os.environ, ANSINH_TOPIC_PREFIX=prefix, DATABASE_URL=db_url, ANSINH_BATCH_SIZE=str(batch),
               ANSINH_BUSINESS_DATE="2025-09-15", ANSINH_LOG_LEVEL="warning", ANSINH_RELAY=relay)
    for i in range(instances):
        log = open(settings.state_dir / f"bench-collection-{i}.log", "wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "services.collection"], cwd=REPO_ROOT,
                                      env=dict(env, ANSINH_WEB_PORT=str(6091 + i)),
                                      stdout=log, stderr=subprocess.STDOUT))
    if relay == "external":
        log = open(settings.state_dir / "bench-collection-relay.log", "wb")
        relay_proc = subprocess.Popen([sys.executable, "-m", "ansinh.cli", "outbox", "relay", "collection"],
                                      cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for i, proc in enumerate(procs):
            await _wait_ready(6091 + i, proc)
        if relay == "external":
            procs.append(relay_proc)
        await asyncio.sleep(3 if instances > 1 else 0)  # let the group settle on its partition assignment
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            published = progress.add_task("system: published", total=len(items))
            assessed = progress.add_task("system: ContributionAssessed out", total=len(items))
            started = time.perf_counter()
            counter = asyncio.create_task(count_topic(settings.kafka_bootstrap, prefix + "collection.assessments",
                                                      len(items), progress, assessed))
            await publish_all(settings.kafka_bootstrap, prefix + "collection.declarations", items, progress, published)
            seen = await _unless_a_process_dies(counter, procs)
            conn = await asyncpg.connect(ServiceSettings(service="collection", database_url=db_url).service_database_url)
            while await conn.fetchval("SELECT count(*) FROM collection.assessments") < len(items):
                await asyncio.sleep(0.05)
            await conn.close()
            elapsed = time.perf_counter() - started
        if seen < len(items):
            raise RuntimeError(f"only {seen} of {len(items)} assessed events arrived; see bench-collection.log")
        return elapsed
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


async def _unless_a_process_dies(task: asyncio.Task, procs) -> int:
    """Await ``task``, but fail at once (not after the deadline) if a system process exits."""
    while not task.done():
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            task.cancel()
            raise RuntimeError(f"a system process exited ({dead[0].args}); see .cache/bench-collection-*.log")
        await asyncio.wait({task}, timeout=0.5)
    return task.result()


async def _wait_ready(port: int, proc, timeout: float = 90) -> None:
    import urllib.request
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("collection service exited; see .cache/bench-collection.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    await asyncio.sleep(1)
                    return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise TimeoutError("collection service not ready")


async def run_baseline(settings: PlatformSettings, prefix: str, db_url: str, items, batch: int) -> float:
    """Publish, consume with plain aiokafka, COPY equivalent rows, produce equivalent events."""
    conn = await asyncpg.connect(db_url)
    await conn.execute("""CREATE TABLE baseline_rows (employer_code text, worker_code text, period date,
        revision int, worker_name text, citizen_id text, funds text[], declared_salary bigint, social_base bigint,
        unemployment_base bigint, floor_applied bool, cap_applied bool, due_date date, lines jsonb, total bigint,
        event_id uuid, body bytea)""")
    source, sink = prefix + "bench.baseline-in", prefix + "bench.baseline-out"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    from aiokafka.admin import NewTopic
    await admin.create_topics([NewTopic(source, 12, 1), NewTopic(sink, 12, 1)])
    await admin.close()
    await asyncio.sleep(1)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all", enable_idempotence=True,
                                linger_ms=20, max_batch_size=1024 * 1024)
    consumer = AIOKafkaConsumer(source, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                                group_id=f"bench-{uuid.uuid4().hex[:6]}", fetch_max_bytes=16 * 1024 * 1024)
    await producer.start()
    await consumer.start()
    lines = json.dumps([[f, "employer", 100000] for f in FUNDS])
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=console) as progress:
            task = progress.add_task("baseline: consumed+copied+produced", total=len(items))
            started = time.perf_counter()
            publisher = asyncio.create_task(publish_all(settings.kafka_bootstrap, source, items))
            done = 0
            while done < len(items):
                got = await consumer.getmany(timeout_ms=200, max_records=batch)
                records = [r for rs in got.values() for r in rs]
                if not records:
                    continue
                rows = [(r.key.decode(), f"{i:010d}", date(2025, 7, 1), 0, "x", "0", FUNDS, 5_000_000, 5_000_000,
                         5_000_000, False, False, date(2025, 8, 31), lines, 1_600_000, uuid.uuid4(), r.value)
                        for i, r in enumerate(records)]
                async with conn.transaction():
                    await conn.copy_records_to_table("baseline_rows", records=rows)
                futures = [await producer.send(sink, r.value, key=r.key) for r in records]
                await asyncio.gather(*futures)
                await consumer.commit()
                done += len(records)
                progress.update(task, completed=done)
            await publisher
            elapsed = time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()
        await conn.close()
    return elapsed


async def main_async(args) -> None:
    settings = PlatformSettings()
    tag = uuid.uuid4().hex[:8]
    prefix, dbname = f"bench{tag}.", f"bench_{tag}"
    admin = await asyncpg.connect(settings.database_url)
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    await admin.close()
    db_url = settings.with_database(dbname)
    await ensure_topics(settings.kafka_bootstrap, prefix)
    console.print(f"generating {args.count:,} declarations for {args.employers:,} employers...")
    items = make_declarations(args.count, args.employers, args.interleave)
    try:
        baseline = await run_baseline(settings, prefix, db_url, items, args.batch)
        system = await run_system(settings, prefix, db_url, items, args.batch, args.instances, args.relay)
    finally:
        await _cleanup(settings, prefix, dbname)
    table = Table("run", "declarations", "seconds", "declarations/s")
    table.add_row(f"system (collection x{args.instances}, relay {args.relay})", f"{args.count:,}", f"{system:.1f}", f"{args.count / system:,.0f}")
    table.add_row("baseline (aiokafka + COPY + produce)", f"{args.count:,}", f"{baseline:.1f}",
                  f"{args.count / baseline:,.0f}")
    console.print(table)
    console.print(f"system / baseline throughput ratio: [bold]{baseline / system:.1%}[/]")


async def _cleanup(settings: PlatformSettings, prefix: str, dbname: str) -> None:
    admin = await asyncpg.connect(settings.database_url)
    await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    await admin.close()
    client = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await client.start()
    await client.delete_topics([t for t in await client.list_topics() if t.startswith(prefix)])
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--employers", type=int, default=4_000)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--instances", type=int, default=1, help="collection service processes (one group)")
    parser.add_argument("--relay", choices=["inline", "external"], default="inline",
                        help="publish the outbox from the service process or from its own relay process")
    parser.add_argument("--interleave", action="store_true",
                        help="alternate employers message by message (worst case) instead of payroll order")
    args = parser.parse_args()
    settings = PlatformSettings()
    kafka.start_kafka(settings)
    postgres.start_postgres(settings)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
