"""Send a corpus through the real broker to running services and account for every message.

For each service consuming the topic: every bad message is in ``<topic>.dlq`` exactly once (matched by
its ``dlq.source_partition``/``dlq.source_offset`` headers, with its original key and bytes), no good one
is; every good one was processed (its event id claimed in the service's inbox and, for collection, its
row written); nothing in the database bears a bad one; ``/ready`` answered 200 at every poll and the
process never exited. A valid message sent after all the others must be processed too.
"""
from __future__ import annotations

import asyncio
import re
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from tests.fuzz.messages import Case

PRODUCER_MAX_REQUEST = 1_100_000


# ---- readiness, polled in the background ---------------------------------------------------------------
@dataclass
class ReadinessWatch:
    """Polls ``/ready`` of each (name, port, process) every ``interval`` s; records every non-200 answer."""

    targets: list[tuple[str, int, Any]]
    interval: float = 0.2
    polls: int = 0
    failures: list[tuple[float, str, str]] = field(default_factory=list)  # (seconds since start, service, what)
    exited: dict[str, int] = field(default_factory=dict)
    transitions: list[tuple[float, str, bool]] = field(default_factory=list)  # (t, service, ready)

    def __post_init__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="readiness-watch")
        self._started = time.monotonic()
        self._last: dict[str, bool] = {}

    def elapsed(self) -> float:
        """Seconds since the watch started (the time base of ``failures`` and ``transitions``)."""
        return time.monotonic() - self._started

    def __enter__(self) -> "ReadinessWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, port, proc in self.targets:
                self._poll(name, port, proc)
            self.polls += 1
            self._stop.wait(self.interval)

    def _poll(self, name: str, port: int, proc) -> None:
        now = time.monotonic() - self._started
        if proc is not None and proc.poll() is not None:
            self.exited[name] = proc.returncode
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as resp:
                status = str(resp.status)
        except urllib.error.HTTPError as exc:
            status = str(exc.code)
        except OSError as exc:
            status = type(exc).__name__
        ready = status == "200"
        if not ready:
            self.failures.append((round(now, 2), name, status))
        if self._last.get(name) != ready:
            self.transitions.append((round(now, 2), name, ready))
            self._last[name] = ready


# ---- sending --------------------------------------------------------------------------------------------
async def send(bootstrap: str, physical_topic: str, cases: list[Case]) -> dict[tuple[int, int], Case]:
    """Publish every case in order; returns (partition, offset) -> case."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                                max_request_size=PRODUCER_MAX_REQUEST)
    await producer.start()
    try:
        futures = [await producer.send(physical_topic, c.value, key=c.key, headers=c.headers) for c in cases]
        results = await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return {(r.partition, r.offset): c for r, c in zip(results, cases)}


def header(headers, name: str) -> str | None:
    """The LAST header called ``name`` (a sender may have put its own ``dlq.*`` headers first)."""
    found = None
    for key, value in headers or ():
        if key == name:
            found = value
    return found.decode(errors="replace") if found is not None else None


class DlqReader:
    """Reads ``<topic>.dlq`` from the beginning, incrementally."""

    def __init__(self, bootstrap: str, dlq_topic: str):
        self.bootstrap, self.dlq_topic = bootstrap, dlq_topic
        self.records: list = []

    async def __aenter__(self) -> "DlqReader":
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None,
                                         max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=16 * 1024 * 1024)
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.dlq_topic)
        for _ in range(50):
            if partitions:
                break
            await asyncio.sleep(0.1)
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.dlq_topic)
        tps = [TopicPartition(self.dlq_topic, p) for p in sorted(partitions or [0])]
        self.consumer.assign(tps)
        await self.consumer.seek_to_beginning(*tps)
        return self

    async def __aexit__(self, *exc) -> None:
        await self.consumer.stop()

    async def poll(self) -> list:
        for recs in (await self.consumer.getmany(timeout_ms=200, max_records=5000)).values():
            self.records.extend(recs)
        return self.records


# ---- what the database says ------------------------------------------------------------------------------
@dataclass
class Consumer:
    """One service consuming the fuzzed topic, and how to read what it did."""

    service: str
    port: int
    proc: Any
    schema: str
    consumer_name: str  # the inbox's consumer column
    identities: Callable[[asyncpg.Connection], Any] | None = None  # rows that identify processed goods
    expected: Callable[[list[Case]], set] = lambda goods: set()  # those rows, from the good cases
    may_change: frozenset[str] = frozenset({"inbox", "parked_events"})


async def claimed(conn: asyncpg.Connection, c: Consumer) -> set[str]:
    rows = await conn.fetch(f"SELECT event_id FROM {c.schema}.inbox WHERE consumer = $1", c.consumer_name)
    return {str(r["event_id"]) for r in rows}


async def table_counts(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    tables = await conn.fetch("SELECT table_name FROM information_schema.tables WHERE table_schema = $1 "
                              "AND table_type = 'BASE TABLE'", schema)
    return {t["table_name"]: await conn.fetchval(f'SELECT count(*) FROM {schema}."{t["table_name"]}"')
            for t in tables}


async def assessment_keys(conn: asyncpg.Connection) -> set[tuple]:
    rows = await conn.fetch("SELECT employer_code, worker_code, to_char(period, 'YYYY-MM') AS p "
                            "FROM collection.assessments")
    return {("assessment", r["employer_code"], r["worker_code"], r["p"]) for r in rows}


async def remittance_keys(conn: asyncpg.Connection) -> set[tuple]:
    rows = await conn.fetch("SELECT bank_reference FROM collection.remittances")
    return {("remittance", r["bank_reference"]) for r in rows}


def identity_of(goods: list[Case]) -> set:
    return {g.identity for g in goods if g.identity}


def parked_of(goods: list[Case]) -> set:
    return {("parked", g.event_id) for g in goods}


def parked_keys(schema: str, topic: str):
    async def read(conn: asyncpg.Connection) -> set[tuple]:
        rows = await conn.fetch(f"SELECT event_id FROM {schema}.parked_events WHERE topic = $1", topic)
        return {("parked", str(r["event_id"])) for r in rows}
    return read


# ---- the accounting -----------------------------------------------------------------------------------------
@dataclass
class Account:
    service: str
    sent: int = 0
    bad: int = 0
    good: int = 0
    dead_lettered: int = 0
    processed: int = 0
    missing_dead_letters: list[str] = field(default_factory=list)  # bad ones never dead-lettered: kinds
    good_dead_lettered: list[str] = field(default_factory=list)  # good ones wrongly dead-lettered: kind + reason
    duplicates: int = 0  # the same source offset dead-lettered more than once
    unknown_dead_letters: int = 0  # DLQ records pointing at no message we sent
    altered_dead_letters: list[str] = field(default_factory=list)  # key or bytes not the original
    personal_in_reason: list[str] = field(default_factory=list)  # kinds whose reason echoed personal data
    unprocessed_goods: list[str] = field(default_factory=list)
    bad_claimed: list[str] = field(default_factory=list)  # a bad one's event id in the inbox
    unexplained_rows: list[Any] = field(default_factory=list)  # identity rows no good one explains
    missing_rows: list[Any] = field(default_factory=list)
    changed_tables: dict[str, int] = field(default_factory=dict)  # tables no good message may change
    by_error_class: Counter = field(default_factory=Counter)
    by_reason: Counter = field(default_factory=Counter)
    sentinel_processed: bool = False

    def problems(self) -> list[str]:
        out = []
        for name in ("missing_dead_letters", "good_dead_lettered", "altered_dead_letters", "personal_in_reason",
                     "unprocessed_goods", "bad_claimed", "unexplained_rows", "missing_rows"):
            items = getattr(self, name)
            if items:
                out.append(f"{self.service}: {len(items)} {name}: {Counter(map(str, items)).most_common(8)}")
        if self.duplicates or self.unknown_dead_letters:
            out.append(f"{self.service}: {self.duplicates} duplicate and {self.unknown_dead_letters} unknown dead letters")
        if self.changed_tables:
            out.append(f"{self.service}: tables changed that no good message explains: {self.changed_tables}")
        if not self.sentinel_processed:
            out.append(f"{self.service}: the valid message sent after the corpus was not processed")
        return out


@dataclass
class Outcome:
    topic: str
    seed: int
    accounts: list[Account]
    readiness_failures: list[tuple[float, str, str]]
    readiness_polls: int
    exited: dict[str, int]
    duration_s: float
    timed_out: bool
    disagreements: Counter  # (kind, schema, referee, models) where the models and the referee differ

    def problems(self) -> list[str]:
        out = [p for a in self.accounts for p in a.problems()]
        if self.readiness_failures:
            out.append(f"/ready was not 200 {len(self.readiness_failures)} time(s) of {self.readiness_polls} polls: "
                       f"{self.readiness_failures[:5]}")
        if self.exited:
            out.append(f"service process exited: {self.exited}")
        if self.timed_out:
            out.append("timed out waiting for every message to be accounted for")
        return out


def _schema(case: Case) -> str:
    return {True: "good", False: "bad", None: "-"}[case.contract_good]


def _kind(case: Case) -> str:
    """A case's class without the random detail (for counting)."""
    return case.kind.split("@")[0]


async def _processed(conn, c: Consumer) -> tuple[set[str], set | None]:
    """Event ids the consumer claimed in its inbox, and the rows identifying what it processed."""
    ids = await claimed(conn, c)
    rows = await c.identities(conn) if c.identities else None
    return ids, rows


async def run(bootstrap: str, physical_topic: str, database_url: str, consumers: list[Consumer],
              cases: list[Case], sentinel: Case, seed: int, timeout: float,
              progress: Callable[[int, int], None] | None = None) -> Outcome:
    """Send ``cases`` then ``sentinel``; wait until each consumer accounted for all, or ``timeout``."""
    topic = physical_topic
    conn = await asyncpg.connect(database_url)
    started = time.monotonic()
    try:
        before = {c.service: await table_counts(conn, c.schema) for c in consumers}
        with ReadinessWatch([(c.service, c.port, c.proc) for c in consumers]) as watch:
            async with DlqReader(bootstrap, f"{topic}.dlq") as dlq:
                sent = await send(bootstrap, topic, cases)
                sent.update(await send(bootstrap, topic, [sentinel]))
                goods = [c for c in sent.values() if c.expect == "good"]
                bads = [c for c in sent.values() if c.expect == "bad"]
                good_ids = {g.event_id for g in goods}
                deadline = time.monotonic() + timeout
                timed_out = True
                while time.monotonic() < deadline:
                    records = await dlq.poll()
                    done = 0
                    for c in consumers:
                        mine = [r for r in records if header(r.headers, "dlq.service") == c.service]
                        ids, _ = await _processed(conn, c)
                        done += min(len(mine), len(bads)) + len(good_ids & ids)
                    if progress:
                        progress(done, len(consumers) * len(sent))
                    if done >= len(consumers) * len(sent):
                        timed_out = False
                        break
                    await asyncio.sleep(0.5)
                settle_until = time.monotonic() + 2.0  # anything extra (a duplicate, a good one) shows up now
                while time.monotonic() < settle_until:
                    records = await dlq.poll()
                    await asyncio.sleep(0.2)
        accounts = [await _account(conn, c, sent, records, before[c.service], sentinel) for c in consumers]
    finally:
        await conn.close()
    disagreements = Counter((_kind(c), _schema(c), c.expect, c.model) for c in cases
                            if c.model != c.expect or c.disagrees)
    return Outcome(physical_topic, seed, accounts, watch.failures, watch.polls, watch.exited,
                   time.monotonic() - started, timed_out, disagreements)


async def _account(conn, c: Consumer, sent: dict[tuple[int, int], Case], records: list, before: dict[str, int],
                   sentinel: Case) -> Account:
    acc = Account(c.service, sent=len(sent))
    goods = [x for x in sent.values() if x.expect == "good"]
    acc.good, acc.bad = len(goods), len(sent) - len(goods)
    seen: Counter = Counter()
    for r in records:
        if header(r.headers, "dlq.service") != c.service:
            continue
        where = (int(header(r.headers, "dlq.source_partition") or -1), int(header(r.headers, "dlq.source_offset") or -1))
        case = sent.get(where)
        if case is None:
            acc.unknown_dead_letters += 1
            continue
        seen[where] += 1
        if seen[where] > 1:
            acc.duplicates += 1
            continue
        reason = header(r.headers, "dlq.reason") or ""
        acc.by_error_class[header(r.headers, "dlq.error_class") or "?"] += 1
        acc.by_reason[_reason_class(reason)] += 1
        if case.expect == "good":
            acc.good_dead_lettered.append(f"{_kind(case)}: {reason[:120]}")
            continue
        acc.dead_lettered += 1
        if r.value != case.value or r.key != case.key:
            acc.altered_dead_letters.append(_kind(case))
        if any(p in reason for p in case.personal):
            acc.personal_in_reason.append(_kind(case))
    acc.missing_dead_letters = [_kind(x) for w, x in sent.items() if x.expect == "bad" and w not in seen]
    ids, rows = await _processed(conn, c)
    acc.processed = len({g.event_id for g in goods} & ids)
    acc.unprocessed_goods = [_kind(g) for g in goods if g.event_id not in ids]
    acc.bad_claimed = [_kind(x) for x in sent.values() if x.expect == "bad" and x.event_id and x.event_id in ids
                       and x.event_id not in {g.event_id for g in goods}]
    acc.sentinel_processed = sentinel.event_id in ids
    if rows is not None:
        expected = c.expected(goods)
        acc.unexplained_rows = sorted(map(str, rows - expected))[:20]
        acc.missing_rows = sorted(map(str, expected - rows))[:20]
    after = await table_counts(conn, c.schema)
    acc.changed_tables = {t: after[t] - before.get(t, 0) for t in after
                          if after[t] != before.get(t, 0) and t not in c.may_change}
    return acc


def _reason_class(reason: str) -> str:
    """The reason without its details (what a table of counts can group by): first clause, no numbers."""
    first = reason.split(";")[0].split(" (got")[0]
    return re.sub(r"\d+", "N", re.sub(r" at line \d+ column \d+", "", first))[:80]
