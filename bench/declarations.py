"""Declarations per second, end to end: the collection service against a fair baseline and the broker's limit.

    .venv/bin/python -m bench.declarations [--count 200000] [--seed 7] [--profile]

One command prints everything: the system's rate, the fair baseline's, their ratio, and what kcat (C,
librdkafka) moves through the same broker on the same machine.

* Workload (``bench/workload.py``): seeded; employers of skewed size declare their workers for several
  periods, with a share below the minimum wage and above the caps, later revisions, and the employers'
  payments on ``collection.remittances`` interleaved while the next month is declared.
* System: the collection service as a real process (``python -m services.collection``, uvloop, its
  tuned collector, its own database role). The clock starts at the first publish and stops when every
  expected event is on ``collection.assessments`` and the database shows every declaration and
  remittance consumed, every payment recorded and the outbox empty (so the allocations are published).
* Fair baseline (``bench/baseline.py``): its own process, same loop, collector, batch size and
  pipelining; consume, decode JSON, COPY equivalent rows, produce one equivalent event per input. The
  clock starts at the first publish and stops when every output is on its topic and every row is
  committed. Its docstring lists what it does not do.
* Broker limit (``bench/broker.py``): kcat produces the same keys and values to a topic with the
  declarations topic's partitions, then consumes them.

Both runs get their own topics and database, are published by the same load generator in this process,
and are counted the same way. ``--profile`` records the service with py-spy during the system run and
prints the top of the profile (see docs/performance.md).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from rich.console import Console
from rich.markdown import Markdown
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ansinh.devplatform import kafka, postgres
from ansinh.ops.credentials import LocalSecrets, password_env, role_of
from ansinh.ops.provision import provision_all
from ansinh.ops.topics import ensure_topics
from ansinh.runtime.settings import REPO_ROOT, SERVICES, PlatformSettings
from bench import broker, profile
from bench.kafka_io import count_messages, publish_all
from bench.workload import BUSINESS_DATE, Workload, generate

console = Console(width=max(100, Console().width))  # the table stays readable when piped to a file
GOAL_RATE, GOAL_RATIO = 20_000, 0.40  # declarations/s end to end, share of the fair baseline (issue 7)


@dataclass
class Run:
    name: str
    seconds: float
    declarations: int
    messages: int
    cpu_seconds: float | None = None  # user + system CPU of the measured process(es) while the clock ran

    @property
    def rate(self) -> float:
        return self.declarations / self.seconds


@dataclass
class World:
    """One benchmark's private topics and databases."""

    settings: PlatformSettings
    tag: str

    @property
    def system_prefix(self) -> str:
        return f"bench{self.tag}s."

    @property
    def baseline_prefix(self) -> str:
        return f"bench{self.tag}b."

    @property
    def kcat_topic(self) -> str:
        return f"bench{self.tag}k.broker-limit"

    def database(self, run: str) -> str:
        return f"bench_{self.tag}_{run}"

    def admin_url(self, run: str) -> str:
        return self.settings.with_database(self.database(run))

    async def create(self) -> None:
        admin = await asyncpg.connect(self.settings.database_url)
        for run in ("s", "b"):
            await admin.execute(f'CREATE DATABASE "{self.database(run)}"')
        await admin.close()
        # The same password as the local platform's: the role is cluster-wide, others' services use it too.
        await provision_all(self.admin_url("s"), {"collection": self._collection_password()})
        for prefix in (self.system_prefix, self.baseline_prefix):
            await ensure_topics(self.settings.kafka_bootstrap, prefix)
        client = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await client.start()
        await client.create_topics([NewTopic(self.kcat_topic, 12, 1)])  # as collection.declarations
        await client.close()

    def _collection_password(self) -> str:
        return LocalSecrets(self.settings.state_dir).db_password("collection")

    def service_url(self) -> str:
        return self.settings.url_for(role_of("collection"), self._collection_password(), self.database("s"))

    async def drop(self) -> None:
        admin = await asyncpg.connect(self.settings.database_url)
        for run in ("s", "b"):
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.database(run)}" WITH (FORCE)')
        await admin.close()
        client = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await client.start()
        await client.delete_topics([t for t in await client.list_topics() if t.startswith(f"bench{self.tag}")])
        await client.close()


# ---- the measured runs ------------------------------------------------------------------------------
async def measure(world: World, work: Workload, run: str, done, procs: list[subprocess.Popen],
                  output_topics: list[str], outputs_by: list[int], label: str, burst: bool) -> tuple[float, float]:
    """Publish ``work`` to run ``run``'s topics, phase by phase (the next once ``outputs_by[i]`` events
    of phase i are out; all at once with ``burst``); seconds until every output is on ``output_topics``
    and ``done(conn)`` says every row is committed, and the CPU seconds ``procs`` used meanwhile. Fails at
    once if one of ``procs`` exits."""
    bootstrap = world.settings.kafka_bootstrap
    prefix = world.system_prefix if run == "s" else world.baseline_prefix
    outputs, seen = outputs_by[-1], [0]

    def counted(n: int) -> None:
        seen[0] = n
        progress.update(out, completed=n)

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        published = progress.add_task(f"{label}: published", total=len(work.messages))
        out = progress.add_task(f"{label}: events out", total=outputs)
        started, cpu_before = time.perf_counter(), _cpu_seconds(procs)
        counter = asyncio.create_task(count_messages(bootstrap, [prefix + t for t in output_topics], outputs,
                                                     counted))
        phases = [(0, len(work.messages), outputs)] if burst else list(zip([0] + work.ends, work.ends, outputs_by))
        for first, end, expected in phases:
            await publish_all(bootstrap, lambda logical: prefix + logical, work.messages[first:end],
                              lambda n: progress.update(published, completed=first + n))
            await _until_seen(seen, expected if end < len(work.messages) else 0, counter, procs, label)
        arrived = await _unless_a_process_dies(counter, procs)
        if arrived < outputs:
            raise RuntimeError(f"{label}: only {arrived:,} of {outputs:,} events arrived")
        await _until(done, world.admin_url(run), procs, label)
        return time.perf_counter() - started, _cpu_seconds(procs) - cpu_before


def _cpu_seconds(procs: list[subprocess.Popen]) -> float:
    """User + system CPU time the processes (all their threads) have used so far (Linux /proc)."""
    total = 0
    for proc in procs:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of stat(5)
    return total / os.sysconf("SC_CLK_TCK")


async def _until_seen(seen: list[int], expected: int, counter: asyncio.Task, procs, label: str,
                      stall_s: float = 120) -> None:
    """Wait until ``seen[0]`` reaches ``expected``; fail when nothing new arrives for ``stall_s``."""
    last, changed = seen[0], time.monotonic()
    while seen[0] < expected and not counter.done() and not any(p.poll() is not None for p in procs):
        if seen[0] != last:
            last, changed = seen[0], time.monotonic()
        elif time.monotonic() - changed > stall_s:
            raise RuntimeError(f"{label}: stuck at {seen[0]:,} of {expected:,} events for {stall_s:.0f} s")
        await asyncio.sleep(0.005)


async def _until(done, database_url: str, procs, label: str, deadline_s: float = 600) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        end, last = time.monotonic() + deadline_s, None
        while time.monotonic() < end:
            ok, last = await done(conn)
            if ok:
                return
            if any(p.poll() is not None for p in procs):
                break
            await asyncio.sleep(0.02)
        raise RuntimeError(f"{label}: the database never showed every row committed; last seen: {last}")
    finally:
        await conn.close()


async def run_baseline(world: World, work: Workload, batch: int, burst: bool) -> Run:
    prefix = world.baseline_prefix
    log = open(world.settings.state_dir / "bench-baseline.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bench.baseline", world.settings.kafka_bootstrap, prefix,
                             world.admin_url("b"), str(batch), str(len(work.messages))],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=log)
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 90)
        if line.strip() != b"ready":
            raise RuntimeError(f"the baseline did not start; see {log.name}")

        async def done(conn):
            rows = await conn.fetchrow("SELECT (SELECT count(*) FROM baseline.assessments) AS declarations, "
                                       "(SELECT count(*) FROM baseline.remittances) AS remittances")
            return (rows["declarations"], rows["remittances"]) == (work.declarations, work.remittances), dict(rows)

        seconds, cpu = await measure(world, work, "b", done, [proc],
                                     ["collection.assessments", "collection.allocations"], work.ends, "baseline",
                                     burst)
        proc.wait(60)
        return Run("fair baseline (own process)", seconds, work.declarations, len(work.messages), cpu)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


async def run_system(world: World, work: Workload, args) -> tuple[Run, profile.Summary | None]:
    prefix, settings = world.system_prefix, world.settings
    # Only this service's own credentials, as the local platform starts it (no admin URL, no other role's).
    others = {"DATABASE_URL", "ANSINH_DB_URL", "ANSINH_DB_PASSWORD"} | {password_env(s) for s in SERVICES}
    env = {k: v for k, v in os.environ.items() if k not in others}
    env.update(ANSINH_TOPIC_PREFIX=prefix, ANSINH_DB_URL=world.service_url(), ANSINH_BATCH_SIZE=str(args.batch),
               ANSINH_BUSINESS_DATE=BUSINESS_DATE.isoformat(), ANSINH_LOG_LEVEL="warning", ANSINH_RELAY=args.relay)
    procs, recorder = [], None
    for i in range(args.instances):
        log = open(settings.state_dir / f"bench-collection-{i}.log", "wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "services.collection"], cwd=REPO_ROOT,
                                      env=dict(env, ANSINH_WEB_PORT=str(args.port + i)),
                                      stdout=log, stderr=subprocess.STDOUT))
    if args.relay == "external":
        log = open(settings.state_dir / "bench-collection-relay.log", "wb")
        procs.append(subprocess.Popen([sys.executable, "-m", "ansinh.cli", "outbox", "relay", "collection"],
                                      cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT))
    try:
        for i in range(args.instances):
            await _wait_ready(args.port + i, procs[i])
        await asyncio.sleep(3 if args.instances > 1 else 0)  # let the group settle on its partition assignment
        if args.profile:
            recorder = profile.Recorder(procs[0].pid, settings.state_dir / "bench-profile.raw", _py_spy(),
                                        native=args.native)

        async def done(conn):
            row = await conn.fetchrow(
                "SELECT (SELECT count(*) FROM collection.inbox WHERE consumer = 'collection.declarations') AS "
                "declarations, (SELECT count(*) FROM collection.inbox WHERE consumer = 'collection.remittances') "
                "AS remittance_messages, (SELECT count(*) FROM collection.remittances) AS payments, "
                "(SELECT count(*) FROM collection.outbox WHERE published_at IS NULL) AS unpublished")
            return (row["declarations"] == work.declarations and row["remittance_messages"] == work.remittances
                    and row["payments"] == work.remittances and row["unpublished"] == 0), dict(row)

        seconds, cpu = await measure(world, work, "s", done, procs, ["collection.assessments"], work.events_by,
                                     "system", args.burst)
        summary = recorder.stop() if recorder else None
        recorder = None
        await _check_system(world, work)
        return Run(f"system: collection x{args.instances}, relay {args.relay}", seconds, work.declarations,
                   len(work.messages), cpu), summary
    finally:
        if recorder:
            recorder.stop()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(30)


async def _check_system(world: World, work: Workload) -> None:
    """The system did the work the workload asks for (a fast wrong answer is not a result)."""
    conn = await asyncpg.connect(world.admin_url("s"))
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM collection.assessments) AS assessments, "
            "(SELECT count(*) FROM collection.assessments WHERE revision > 0) AS revised, "
            "(SELECT count(*) FROM collection.compliance_flags) AS flags")
    finally:
        await conn.close()
    expected = {"assessments": work.declarations - work.revisions, "revised": work.revisions,
                "flags": work.below_floor}
    if dict(row) != expected:
        raise RuntimeError(f"the system's state does not match the workload: {dict(row)} != {expected}")


async def _unless_a_process_dies(task: asyncio.Task, procs) -> int:
    """Await ``task``, but fail at once (not after the deadline) if a measured process exits."""
    while not task.done():
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            task.cancel()
            raise RuntimeError(f"a measured process exited ({dead[0].args}); see .cache/bench-*.log")
        await asyncio.wait({task}, timeout=0.5)
    return task.result()


async def _wait_ready(port: int, proc, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError("collection service exited; see .cache/bench-collection-*.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as r:
                if r.status == 200:
                    await asyncio.sleep(1)  # as the tests do: let the consumer group assignment settle
                    return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise TimeoutError("collection service not ready")


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("--profile needs py-spy (pip install py-spy; it is in the dev dependencies)")
    return found


# ---- report -------------------------------------------------------------------------------------------
def report(work: Workload, system: Run, baseline: Run, limit: broker.BrokerLimit | None, args) -> None:
    table = Table("run", "seconds", "declarations/s", "messages/s", "MB/s", "CPU (cores)", "CPU µs/message",
                  title="End to end, same messages")
    size = work.bytes
    for run in (system, baseline):
        # CPU of the measured process alone (not PostgreSQL's, Kafka's or the load generator's): near 1 core
        # means it is bound by its own CPU (one GIL), well below means it waits for something else.
        table.add_row(run.name, f"{run.seconds:.1f}", f"{run.rate:,.0f}", f"{run.messages / run.seconds:,.0f}",
                      f"{size / run.seconds / 1e6:.1f}", f"{run.cpu_seconds / run.seconds:.2f}",
                      f"{run.cpu_seconds / run.messages * 1e6:.0f}")
    if limit:
        for what, rate in (("produce", limit.produce), ("consume", limit.consume)):
            table.add_row(f"broker limit: kcat {what}", f"{rate.seconds:.2f}", "",
                          f"{rate.per_second:,.0f}", f"{rate.mb_per_second:.1f}", "", "")
    console.print(table)
    ratio = baseline.seconds / system.seconds
    console.print(f"system / fair baseline: [bold]{ratio:.1%}[/]   system: [bold]{system.rate:,.0f}[/] declarations/s"
                  f"   goal: {GOAL_RATE:,}/s and {GOAL_RATIO:.0%} -> "
                  f"{'[green]met' if system.rate >= GOAL_RATE and ratio >= GOAL_RATIO else '[red]not met'}[/]")
    if limit:
        console.print(f"the system moves {system.messages / system.seconds / limit.produce.per_second:.1%} of what "
                      f"kcat can produce and {system.messages / system.seconds / limit.consume.per_second:.1%} of "
                      "what it can consume on this broker")
    console.print(f"[dim]seed {args.seed}, batch {args.batch}, load average {os.getloadavg()[0]:.2f} on "
                  f"{os.cpu_count()} cores at the end (others' work skews every figure)[/]")


async def main_async(args) -> None:
    settings = PlatformSettings()
    console.print(f"generating (seed {args.seed})...")
    work = generate(args.count, args.employers, args.periods, args.seed, args.interleave)
    console.print(work.describe())
    world = World(settings, uuid.uuid4().hex[:8])
    await world.create()
    try:
        limit = None
        if broker.available():
            limit = await asyncio.to_thread(broker.measure, settings.kafka_bootstrap, world.kcat_topic,
                                            [(k, v) for _, k, v in work.messages])
        else:
            console.print(f"[yellow]{broker.INSTALL_HINT}[/]")
        baseline = await run_baseline(world, work, args.batch, args.burst)
        system, summary = await run_system(world, work, args)
    finally:
        await world.drop()
    report(work, system, baseline, limit, args)
    if summary:
        console.print(Markdown(f"### Top of the profile (service process, py-spy)\n\n{summary.markdown(args.top)}"))
        console.print(f"[dim]raw stacks: {settings.state_dir / 'bench-profile.raw'} "
                      "(.venv/bin/python -m bench.profile FILE summarises them again)[/]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200_000, help="declarations, revisions included")
    parser.add_argument("--employers", type=int, default=None, help="default: about 50 workers per employer")
    parser.add_argument("--periods", type=int, default=3, help="months declared, ending the month before 2025-09")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=2_000)
    parser.add_argument("--instances", type=int, default=1, help="collection service processes (one group)")
    parser.add_argument("--relay", choices=["inline", "external"], default="inline",
                        help="publish the outbox from the service process or from its own relay process")
    parser.add_argument("--interleave", action="store_true",
                        help="alternate employers message by message (worst case) instead of payroll order")
    parser.add_argument("--burst", action="store_true",
                        help="publish every period at once (a catch-up after an outage: payments overtake the "
                             "declarations they pay and become credit) instead of month after month")
    parser.add_argument("--profile", action="store_true", help="record the service with py-spy and summarise")
    parser.add_argument("--native", action="store_true", help="with --profile: include C/Cython frames")
    parser.add_argument("--top", type=int, default=15, help="rows of each profile table")
    parser.add_argument("--port", type=int, default=6091, help="first web port of the service processes")
    args = parser.parse_args()
    settings = PlatformSettings()
    kafka.start_kafka(settings)  # idempotent: this checkout's running broker is used as it is
    postgres.start_postgres(settings)
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
