"""The national month in miniature: the simulators play K months against the running services, and every
figure the platform reports is checked against the simulators' own ledgers.

Stages (each publishes through the public topics, waits for the services with a deadline, then checks):

1. **Collection.** Employers declare each period (corrections, a few broken rows) and pay as their habit says;
   banks report the payments as fields or camt.054. Checked: what collection assessed per employer, period and
   fund equals what each employer's payroll computed it owes; the money received equals the money allocated plus
   the employers' credit; per employer, outstanding and credit follow from owed and paid; the broken rows, and
   only they, are dead-lettered; declarations below the floor are flagged.
2. **Arrears.** Once its ledger has every assessment and payment, the daily run is asked for each business date
   from the first day late to today (an operator's POST /runs). Checked: the interest charged per employer equals
   an independent computation, day by day from collection's obligations and allocations with the law's rule
   (0.03% a day of the unpaid principal, rounded half up per debt and day); collection receives that interest as
   obligations of fund ``interest``; the employers listed overdue are those that owe principal.
"""
from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Awaitable, Callable
from zoneinfo import ZoneInfo

import asyncpg
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ansinh.ops.credentials import LocalSecrets
from ansinh.ops.topics import DLQ_PARTITIONS
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, PlatformSettings
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
    notes: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)

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
    by_employer = _employer_totals(played)
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


# ------------------------------------------------------------------------------------------------------ arrears
LAW41_BPS_PER_DAY, BPS = 3, 10_000  # Law 41/2024 Art. 40: 0.03% of the unpaid amount per day late


class Operator:
    """An operator calling a service's HTTP API with a token (the local platform's generated ones)."""

    def __init__(self, service: str, token: str):
        self.base, self.token = f"http://127.0.0.1:{DEFAULT_WEB_PORTS[service]}", token

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {self.base}{path}: {exc.code} {exc.read()[:300]!r}") from None


def independent_interest(obligations: list, allocations: list, through: date) -> dict[str, int]:
    """Interest per employer, computed here day by day from collection's figures (not arrears' code): each debt
    (employer, period, fund) accrues, each day after its due date up to ``through``, 3 bp of its principal unpaid
    at the end of that day (payments count from their value date), rounded half up to the dong."""
    paid: dict[tuple, list[tuple[date, int]]] = {}
    for a in allocations:
        paid.setdefault((a["employer_code"], a["period"], a["fund"]), []).append((a["value_date"], a["amount"]))
    interest: dict[str, int] = {}
    for o in obligations:
        key = (o["employer_code"], o["period"], o["fund"])
        day, total = o["due_date"] + timedelta(days=1), 0
        while day <= through:
            unpaid = max(0, o["assessed"] - sum(amount for when, amount in paid.get(key, ()) if when <= day))
            total += (2 * unpaid * LAW41_BPS_PER_DAY + BPS) // (2 * BPS)
            day += timedelta(days=1)
        interest[o["employer_code"]] = interest.get(o["employer_code"], 0) + total
    return {employer: amount for employer, amount in interest.items() if amount}


async def play_arrears(console: Console, played: Played, admin: asyncpg.Connection) -> None:
    like, today = played.prefix + "%", datetime.now(HANOI).date()
    operator = Operator("arrears", LocalSecrets(played.settings.state_dir).operator_token())
    started = time.monotonic()
    with _progress(console) as progress:
        principal = await admin.fetchval("SELECT coalesce(sum(assessed), 0)::bigint FROM collection.obligations "
                                         "WHERE employer_code LIKE $1 AND fund <> 'interest'", like)
        await wait_until("arrears' ledger has every assessment (VND)", lambda: admin.fetchval(
            "SELECT coalesce(sum(principal), 0)::bigint FROM arrears.debts WHERE employer_code LIKE $1", like),
            principal, progress, timeout=120)
        allocated = await admin.fetchval("SELECT coalesce(sum(amount), 0)::bigint FROM collection.allocations "
                                         "WHERE employer_code LIKE $1 AND fund <> 'interest'", like)
        await wait_until("arrears' ledger has every payment (VND)", lambda: admin.fetchval(
            "SELECT coalesce(sum(amount), 0)::bigint FROM arrears.payment_lines WHERE employer_code LIKE $1",
            like), allocated, progress, timeout=120)
        latest = max((date.fromisoformat(r["business_date"]) for r in operator.call("GET", "/runs")["runs"]),
                     default=None)
        first = min(law.due_date(p) for p in played.periods) + timedelta(days=1)
        days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
        todo = [d for d in days if latest is None or d > latest]
        task = progress.add_task("arrears: one daily run per business date", total=len(days))
        progress.update(task, completed=len(days) - len(todo))
        for day in todo:
            operator.call("POST", "/runs", {"business_date": day.isoformat(), "reason": "demo: the month's runs"})
            progress.advance(task)
    played.timings["arrears"] = time.monotonic() - started
    if not todo:
        # Debts that appear after a day's run are charged, back to their first day late, by the next run: with
        # today's run already done, that is tomorrow's. (Days run before they appeared are no obstacle.)
        console.print(f"[yellow]today's daily run ({latest}) predates this demo run: tomorrow's run charges its "
                      "debts' interest; the interest checks are skipped[/]")
        played.notes.append("arrears interest not checked: today's run predates this demo run")
        return
    await check_arrears(played, admin, operator, today)


async def check_arrears(played: Played, admin: asyncpg.Connection, operator: Operator, today: date) -> None:
    like = played.prefix + "%"
    obligations = await admin.fetch("SELECT employer_code, period, fund, assessed, due_date FROM collection.obligations "
                                     "WHERE employer_code LIKE $1 AND fund <> 'interest'", like)
    allocations = await admin.fetch("SELECT employer_code, period, fund, value_date, amount FROM collection.allocations"
                                    " WHERE employer_code LIKE $1 AND fund <> 'interest'", like)
    expected = independent_interest(obligations, allocations, today)
    charged = {r["employer_code"]: r["amount"] for r in await admin.fetch(
        "SELECT employer_code, sum(amount)::bigint AS amount FROM arrears.interest_postings "
        "WHERE employer_code LIKE $1 GROUP BY 1 HAVING sum(amount) <> 0", like)}
    played.check("arrears", "interest charged: employers and total (VND) = computed here day by day",
                 _summary(expected), _summary(charged))
    played.check("arrears", "employers whose interest differs from the independent computation", 0,
                 sum(1 for e in expected.keys() | charged.keys() if expected.get(e) != charged.get(e)))
    total = sum(charged.values())
    async def payable() -> int:
        return await admin.fetchval("SELECT coalesce(sum(assessed), 0)::bigint FROM collection.obligations "
                                    "WHERE employer_code LIKE $1 AND fund = 'interest'", like)
    deadline = time.monotonic() + 60
    while await payable() != total and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    played.check("arrears", "interest made payable in collection (fund 'interest', VND)", total, await payable())
    owing = sum(1 for totals in _employer_totals(played).values() if totals[0] > totals[1])
    overdue = operator.call("GET", f"/overdue?days=0&as_of={today.isoformat()}&limit=10000")
    listed = sum(1 for e in overdue["employers"] if e["employer_code"].startswith(played.prefix))
    played.check("arrears", "employers listed overdue = employers that owe principal", owing, listed)
    played.figures["late-payment ratio"] = operator.call("GET", f"/late-payment-ratio?as_of={today.isoformat()}")


def _employer_totals(played: Played) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = {}
    for month in played.ledger.months.values():
        entry = totals.setdefault(month.employer_code, [0, 0])
        entry[0] += month.total_owed
        entry[1] += month.total_paid
    return totals


# ------------------------------------------------------------------------------------------------------ report
def report(console: Console, played: Played) -> bool:
    table = Table("stage", "check", "expected", "found", "", title="Cross-checks against the simulators' ledgers")
    for check in played.checks:
        table.add_row(check.stage, check.what, _show(check.expected), _show(check.found),
                      "[green]holds[/]" if check.holds else "[red bold]DIFFERS[/]")
    console.print(table)
    ratio = played.figures.get("late-payment ratio")
    if ratio:
        verdict = "[red]above[/]" if ratio["above_target"] else "[green]below[/]"
        console.print(f"late-payment ratio {ratio['ratio']:.2%} ({ratio['overdue_principal']:,} overdue of "
                      f"{ratio['principal_due_in_year']:,} VND due in the year): {verdict} the "
                      f"{ratio['target']:.2%} target")
    for note in played.notes:
        console.print(f"[yellow]note:[/] {note}")
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
        await play_arrears(console, played, admin)
    finally:
        await admin.close()
    return report(console, played)
