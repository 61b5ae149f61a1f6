"""The national month in miniature: the simulators play K months against the running services, and every
figure the platform reports is checked against the simulators' own ledgers.

Stages (each publishes through the public topics, waits for the services with a deadline, then checks):

1. **Collection.** Employers declare each period (corrections, a few broken rows) and pay as their habit says;
   banks report the payments as fields or camt.054. Checked: what collection assessed per employer, period and
   fund equals what each employer's payroll computed it owes; the money received equals the money allocated plus
   the employers' credit; per employer, outstanding and credit follow from owed and paid; the broken rows, and
   only they, are dead-lettered; declarations below the floor are flagged.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ansinh.ops.topics import DLQ_PARTITIONS
from ansinh.runtime.settings import PlatformSettings
from simulators import law, payroll, wire
from simulators.population import Population, build

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass(frozen=True)
class Scenario:
    employers: int = 200
    workers: int = 5_000
    beneficiaries: int = 1_000
    months: int = 3
    seed: int = 2026


@dataclass(frozen=True)
class Check:
    stage: str
    what: str
    expected: object
    found: object

    @property
    def holds(self) -> bool:
        return self.expected == self.found


@dataclass
class Played:
    """What the simulators did in this run, and the checks made against the services."""

    scenario: Scenario
    settings: PlatformSettings
    prefix: str
    periods: list[str]
    population: Population
    ledger: payroll.Ledger = field(default_factory=payroll.Ledger)
    checks: list[Check] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    def check(self, stage: str, what: str, expected: object, found: object) -> None:
        self.checks.append(Check(stage, what, expected, found))


def periods_before(today: date, months: int) -> list[str]:
    """The last ``months`` periods whose due date has passed by ``today``."""
    year, month = today.year, today.month
    found: list[str] = []
    while len(found) < months:
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        period = f"{year}-{month:02d}"
        if law.due_date(period) < today:
            found.insert(0, period)
    return found


def run_prefix(seed: int) -> str:
    """Employer codes of this run (capital letters and digits): the seed, and a tag that differs per run."""
    tag = format(int(time.time()) % 36**3, "x").upper()[-3:].rjust(3, "0")
    return f"S{seed % 100:02d}{tag}"


async def wait_until(what: str, count: Callable[[], Awaitable[int]], target: int, progress: Progress,
                     timeout: float) -> int:
    """Poll ``count`` until it reaches ``target`` (shown as a bar); the last value seen if the deadline passes."""
    task = progress.add_task(what, total=target)
    deadline = time.monotonic() + timeout
    seen = await count()
    while seen < target and time.monotonic() < deadline:
        progress.update(task, completed=seen)
        await asyncio.sleep(0.5)
        seen = await count()
    progress.update(task, completed=min(seen, target))
    return seen


def _progress(console: Console) -> Progress:
    return Progress(TextColumn("{task.description:<44}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console)


# --------------------------------------------------------------------------------------------------- collection
async def play_collection(console: Console, settings: PlatformSettings, played: Played,
                          admin: asyncpg.Connection) -> None:
    """Period by period, as a month apart: declarations first, assessed; then the period's payments."""
    seed, today, like = played.scenario.seed, datetime.now(HANOI).date(), played.prefix + "%"
    started = time.monotonic()
    previous = None
    with _progress(console) as progress:
        for period in played.periods:
            declarations = payroll.declare(played.population, period, previous, played.ledger, seed)
            await _publish(settings, f"{period}: payroll systems declare", declarations, progress)
            rows = sum(len(m.declared) for m in played.ledger.months.values())
            await wait_until(f"{period}: collection assesses", lambda: admin.fetchval(
                "SELECT count(*) FROM collection.assessments WHERE employer_code LIKE $1", like), rows,
                progress, timeout=300)
            payments = payroll.pay(played.population, period, played.ledger, seed, not_after=today)
            await _publish(settings, f"{period}: banks report payments", payments, progress)
            expected = sum(len(m.payments) for m in played.ledger.months.values())
            await wait_until(f"{period}: collection allocates", lambda: admin.fetchval(
                "SELECT count(*) FROM collection.remittances r LEFT JOIN collection.suspense s USING (payment_id) "
                "WHERE r.employer_code LIKE $1 OR s.payment_id IS NOT NULL AND r.bank_reference LIKE $2",
                like, f"%{played.prefix}%"), expected, progress, timeout=120)
            previous = period
    played.timings["collection"] = time.monotonic() - started
    await check_collection(played, admin)


async def _publish(settings: PlatformSettings, what: str, messages: list[payroll.Sent], progress: Progress) -> None:
    task = progress.add_task(what, total=len(messages))
    await wire.publish(settings.kafka_bootstrap, messages, settings.topic_prefix,
                       progress=lambda n: progress.advance(task, n))


async def check_collection(played: Played, admin: asyncpg.Connection) -> None:
    like = played.prefix + "%"
    owed = {(m.employer_code, m.period, fund): amount for m in played.ledger.months.values()
            for fund, amount in m.owed.items()}
    rows = await admin.fetch("SELECT employer_code, to_char(period, 'YYYY-MM') AS period, fund, assessed, paid "
                             "FROM collection.obligations WHERE employer_code LIKE $1 AND fund <> 'interest'", like)
    assessed = {(r["employer_code"], r["period"], r["fund"]): r["assessed"] for r in rows}
    played.check("collection", "assessed per employer, period and fund = what each payroll computed it owes",
                 _summary(owed), _summary(assessed))
    played.check("collection", "employer-period-fund amounts that differ", 0,
                 sum(1 for k in owed.keys() | assessed.keys() if owed.get(k) != assessed.get(k)))
    received = await admin.fetchval("SELECT coalesce(sum(amount), 0)::bigint FROM collection.remittances "
                                    "WHERE employer_code LIKE $1", like)
    held = await admin.fetchval("SELECT count(*) FROM collection.suspense s JOIN collection.remittances r "
                                "USING (payment_id) WHERE r.bank_reference LIKE $1", f"%{played.prefix}%")
    played.check("collection", "payments held as unidentified (every payer is a known employer)", 0, held)
    paid = sum(m.total_paid for m in played.ledger.months.values())
    played.check("collection", "money received = what the employers paid (VND)", paid, received)
    allocated = await admin.fetchval("SELECT coalesce(sum(amount), 0)::bigint FROM collection.allocations "
                                     "WHERE employer_code LIKE $1", like)
    credit = await admin.fetchval("SELECT coalesce(sum(credit), 0)::bigint FROM collection.employers "
                                  "WHERE employer_code LIKE $1", like)
    played.check("collection", "money received = allocated + employers' credit (VND)", received, allocated + credit)
    by_employer: dict[str, list[int]] = {}
    for month in played.ledger.months.values():
        totals = by_employer.setdefault(month.employer_code, [0, 0])
        totals[0] += month.total_owed
        totals[1] += month.total_paid
    outstanding = sum(r["assessed"] - r["paid"] for r in rows)
    played.check("collection", "outstanding = sum over employers of max(0, owed - paid) (VND)",
                 sum(max(0, o - p) for o, p in by_employer.values()), outstanding)
    played.check("collection", "credit = sum over employers of max(0, paid - owed) (VND)",
                 sum(max(0, p - o) for o, p in by_employer.values()), credit)
    below = sum(m.below_floor for m in played.ledger.months.values())
    flagged = await admin.fetchval("SELECT count(*) FROM collection.compliance_flags WHERE employer_code LIKE $1", like)
    played.check("collection", "declarations below the regional floor are flagged, each revision", below, flagged)
    broken = sum(m.broken_rows for m in played.ledger.months.values())
    played.check("collection", "rows a payroll bug broke are dead-lettered, and only they", broken,
                 await _dead_lettered(played))


async def _dead_lettered(played: Played) -> int:
    """Declarations of this run's employers on collection.declarations.dlq (keyed by employer code)."""
    from aiokafka import AIOKafkaConsumer

    from aiokafka import TopicPartition

    topic = played.settings.topic("collection.declarations") + ".dlq"
    consumer = AIOKafkaConsumer(bootstrap_servers=played.settings.kafka_bootstrap, enable_auto_commit=False,
                                group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(DLQ_PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        count = 0
        while True:
            behind = [tp for tp, end in ends.items() if await consumer.position(tp) < end]
            if not behind:
                return count
            for records in (await consumer.getmany(*behind, timeout_ms=500)).values():
                count += sum(1 for r in records if r.offset < ends[TopicPartition(r.topic, r.partition)]
                             and (r.key or b"").startswith(played.prefix.encode()))
    finally:
        await consumer.stop()


def _summary(amounts: dict) -> tuple[int, int]:
    return len(amounts), sum(amounts.values())


# ------------------------------------------------------------------------------------------------------ report
def report(console: Console, played: Played) -> bool:
    table = Table("stage", "check", "expected", "found", "", title="Cross-checks against the simulators' ledgers")
    for check in played.checks:
        table.add_row(check.stage, check.what, _show(check.expected), _show(check.found),
                      "[green]holds[/]" if check.holds else "[red bold]DIFFERS[/]")
    console.print(table)
    return all(c.holds for c in played.checks)


def _show(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple):
        return " · ".join(_show(v) for v in value)
    return str(value)


async def play(console: Console, settings: PlatformSettings, scenario: Scenario) -> bool:
    today = datetime.now(HANOI).date()
    prefix = run_prefix(scenario.seed)
    population = build(scenario.seed, scenario.employers, scenario.workers, scenario.beneficiaries, prefix=prefix)
    played = Played(scenario, settings, prefix, periods_before(today, scenario.months), population)
    console.print(f"{scenario.employers:,} employers ({prefix}...), {scenario.workers:,} workers, "
                  f"{scenario.beneficiaries:,} beneficiaries; periods {', '.join(played.periods)}; seed {scenario.seed}")
    admin = await asyncpg.connect(settings.database_url)
    try:
        await play_collection(console, settings, played, admin)
    finally:
        await admin.close()
    return report(console, played)
