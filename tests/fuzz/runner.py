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
from aiokafka.admin import AIOKafkaAdminClient

from ansinh.runtime.decoding import Tombstone
from ansinh.runtime.dlq import RawMessage

from tests.fuzz.messages import Case
from tests.kafka_helpers import uncommitted
from tests.raw_records import raw_header_keys, raw_headers
from tests.waiting import eventually_async

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
    """Publish every case in order; returns (partition, offset) -> case. Header keys given as bytes go on the
    wire as they are, UTF-8 or not (as ``kcat -H`` writes them)."""
    with raw_header_keys():
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5,
                                    max_request_size=PRODUCER_MAX_REQUEST)
        await producer.start()
        try:
            futures = [await producer.send(physical_topic, c.value, key=c.key, headers=raw_headers(c.headers))
                       for c in cases]
            results = await asyncio.gather(*futures)
        finally:
            await producer.stop()
    sent = {(r.partition, r.offset): c for r, c in zip(results, cases)}
    for (partition, offset), c in sent.items():
        if c.value is None and c.expect == "good":  # a tombstone a consumer processes: claimed under this id
            c.event_id = str(Tombstone(RawMessage(physical_topic, partition, offset, c.key, None)).envelope.event_id)
    return sent


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

    async def to_end(self) -> list:
        """Everything in the DLQ up to its end offsets now."""
        ends = await self.consumer.end_offsets(list(self.consumer.assignment()))

        async def read() -> bool:
            await self.poll()
            return all([await self.consumer.position(tp) >= end for tp, end in ends.items()])
        await eventually_async(read, timeout=60, interval=0, what=f"{self.dlq_topic} read to its end offsets {ends}")
        return self.records


# ---- what the database says ------------------------------------------------------------------------------
@dataclass
class Consumer:
    """One service consuming the fuzzed topic, and how to read what it did."""

    service: str
    port: int
    proc: Any
    schema: str
    consumer_name: str | None  # the inbox's consumer column (None: any; services name their consumers their way)
    identities: Callable[[asyncpg.Connection], Any] | None = None  # rows that identify processed goods
    expected: Callable[[list[Case]], set] = lambda goods: set()  # those rows, from the good cases
    may_change: frozenset[str] | None = frozenset({"inbox", "parked_events"})  # None: any of its tables
    # The service refuses messages valid by contract on state the referee does not model (an award never
    # received, a payment never sent): a good one dead-lettered at stage "check" is then counted as
    # refused, not as a failure. Bad ones must still all be dead-lettered and never claimed.
    domain_refusals: bool = False
    groups: int = 1  # consumer groups of the service reading the topic (set by ``run``)
    group_prefix: str = ""  # its consumer groups' ids start with this (the bulk source has one per topic)


async def claimed(conn: asyncpg.Connection, c: Consumer) -> set[str]:
    if c.consumer_name is None:  # event ids are unique per topic and case: any consumer of the service will do
        rows = await conn.fetch(f"SELECT event_id FROM {c.schema}.inbox")
        return {str(r["event_id"]) for r in rows}
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
    refused_by_domain: dict = field(default_factory=dict)  # (partition, offset) -> kind and reason
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


async def groups_reading(bootstrap: str, group_prefix: str, topic: str) -> list[str]:
    """The consumer groups whose ids start with ``group_prefix`` that have committed offsets of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        groups = [g for g, _ in await admin.list_consumer_groups() if g.startswith(group_prefix)]
        return [g for g in groups if any(tp.topic == topic for tp in await admin.list_consumer_group_offsets(g))]
    finally:
        await admin.close()


async def _uncommitted(bootstrap: str, topic: str, consumers: list[Consumer]) -> dict[str, int]:
    """Per consumer: records of ``topic`` its groups have not committed yet."""
    return {c.service: (await uncommitted(bootstrap, c.group_prefix, [topic]))[topic] for c in consumers}


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
                deadline = time.monotonic() + timeout
                timed_out = True
                while time.monotonic() < deadline:
                    records = await dlq.poll()
                    done = 0
                    for c in consumers:
                        dead = _dead_lettered(records, c, sent)
                        ids, _ = await _processed(conn, c)
                        done += len(dead) + len({w for w, x in sent.items() if x.expect == "good" and w not in dead
                                                 and x.event_id in ids})
                    if progress:
                        progress(done, len(consumers) * len(sent))
                    if done >= len(consumers) * len(sent):
                        timed_out = False
                        break
                    await asyncio.sleep(0.5)
                if not timed_out:
                    # Anything extra (a duplicate, a good one dead-lettered) is in the DLQ once every consumer
                    # has committed the whole topic (a dead letter is acknowledged before its offset moves).
                    await eventually_async(lambda: _uncommitted(bootstrap, topic, consumers), timeout=60,
                                           interval=0.3, until=lambda behind: not any(behind.values()),
                                           what="every consumer has committed the whole fuzzed topic")
                records = await dlq.to_end()
        # A service may read the topic in several groups (arrears: the ledger and the ops side), each of
        # which dead-letters what it cannot decode: one dead letter per group is expected, not a duplicate.
        for c in consumers:
            c.groups = max(1, len(await groups_reading(bootstrap, c.group_prefix, topic)))
        accounts = [await _account(conn, c, sent, records, before[c.service], sentinel) for c in consumers]
    finally:
        await conn.close()
    disagreements = Counter((_kind(c), _schema(c), c.expect, c.model) for c in cases
                            if c.model != c.expect or c.disagrees)
    return Outcome(physical_topic, seed, accounts, watch.failures, watch.polls, watch.exited,
                   time.monotonic() - started, timed_out, disagreements)


def _dead_lettered(records: list, c: Consumer, sent: dict[tuple[int, int], Case]) -> set[tuple[int, int]]:
    """Where (partition, offset) the messages ``c`` dead-lettered were, among those sent."""
    where = {(int(header(r.headers, "dlq.source_partition") or -1), int(header(r.headers, "dlq.source_offset") or -1))
             for r in records if header(r.headers, "dlq.service") == c.service}
    return where & sent.keys()


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
        if seen[where] > c.groups:
            acc.duplicates += 1
            continue
        reason = header(r.headers, "dlq.reason") or ""
        if seen[where] > 1:  # another group's copy: same checks, counted once
            if case.expect == "bad" and (r.value != case.value or r.key != case.key):
                acc.altered_dead_letters.append(_kind(case))
            continue
        acc.by_error_class[header(r.headers, "dlq.error_class") or "?"] += 1
        if case.expect == "bad":
            acc.by_reason[_reason_class(reason)] += 1
        if case.expect == "good":
            if c.domain_refusals and header(r.headers, "dlq.stage") == "check":
                acc.refused_by_domain[where] = f"{_kind(case)}: {reason[:120]}"
                acc.by_reason[f"(good by contract, refused by the service) {_reason_class(reason)}"[:80]] += 1
            else:
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
    refused = {sent[w].event_id for w in acc.refused_by_domain}
    acc.unprocessed_goods = [_kind(g) for g in goods if g.event_id not in ids and g.event_id not in refused]
    acc.bad_claimed = [_kind(x) for x in sent.values() if x.expect == "bad" and x.event_id and x.event_id in ids
                       and x.event_id not in {g.event_id for g in goods}]
    acc.sentinel_processed = sentinel.event_id in ids or sentinel.event_id in refused
    if rows is not None:
        expected = c.expected(goods)
        acc.unexplained_rows = sorted(map(str, rows - expected))[:20]
        acc.missing_rows = sorted(map(str, expected - rows))[:20]
    after = await table_counts(conn, c.schema)
    acc.changed_tables = {t: after[t] - before.get(t, 0) for t in after
                          if after[t] != before.get(t, 0) and c.may_change is not None and t not in c.may_change}
    return acc


def _reason_class(reason: str) -> str:
    """The reason without its details (what a table of counts can group by): first clause, no numbers."""
    first = reason.split(";")[0].split(" (got")[0]
    return re.sub(r"\d+", "N", re.sub(r" at line \d+ column \d+", "", first))[:80]
