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
3. **Payments.** The decision system awards benefits (and, month by month, suspends some, reports deaths,
   changes accounts); for each month an operator prepares the run and a second one approves it; the banks and
   the paying offices answer. Checked: exactly one payment per award and month, none after a suspension or death,
   every account rejection ends in cash or returned, nothing waits for an answer.
4. **Notifications.** The registry sends contact details; participants are told. Checked: what the mailbox
   (the local SMTP server and SMS/push gateway) received equals what the service recorded as sent, each message
   once; workers of employers that did not pay are told.
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
from ansinh.ops.service_api import OperatorError, ServiceClient
from ansinh.ops.topics import DLQ_PARTITIONS
from ansinh.runtime.settings import DEFAULT_WEB_PORTS, PlatformSettings
from simulators import answers, law, payroll, registry, wire
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
class Endpoints:
    """Where the services and the mailbox answer, and the two operators' tokens (maker and checker)."""

    ports: dict[str, int]
    operator_token: str
    approver_token: str
    mailbox_http_port: int

    @classmethod
    def local(cls, settings: PlatformSettings) -> "Endpoints":
        secrets = LocalSecrets(settings.state_dir)
        return cls(dict(DEFAULT_WEB_PORTS), secrets.operator_token(), secrets.approver_token(),
                   settings.mailbox_http_port)


STAGES = ("collection", "arrears", "payments", "notifications")


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
    endpoints: Endpoints
    prefix: str
    periods: list[str]
    population: Population
    ledger: payroll.Ledger = field(default_factory=payroll.Ledger)
    checks: list[Check] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    volumes: dict[str, tuple[int, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, object] = field(default_factory=dict)
    awards: registry.Registry = field(default_factory=registry.Registry)
    pay_periods: list[str] = field(default_factory=list)
    worker_contacts: dict[str, dict] = field(default_factory=dict)
    started_at: datetime = field(default_factory=lambda: datetime.now(HANOI))

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
        # Workers are in the participant registry before anything happens to them.
        contacts, played.worker_contacts = registry.worker_contacts(played.population, seed, datetime.now(HANOI))
        await _publish(settings, "registry: workers' contact details", contacts, progress)
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
    played.volumes["collection"] = (sum(len(m.declared) + m.broken_rows + len(m.payments)
                                        for m in played.ledger.months.values()), "declarations and payments")
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
    # Interest the daily runs made payable meanwhile (fund 'interest') is owed too: read in the same snapshot.
    snapshot = await admin.fetch(
        "SELECT o.employer_code, sum(o.assessed - o.paid)::bigint AS outstanding, "
        "coalesce(sum(o.assessed) FILTER (WHERE o.fund = 'interest'), 0)::bigint AS interest, "
        "max(e.credit)::bigint AS credit FROM collection.obligations o JOIN collection.employers e USING "
        "(employer_code) WHERE o.employer_code LIKE $1 GROUP BY 1", like)
    by_employer = _employer_totals(played)
    interest = {r["employer_code"]: r["interest"] for r in snapshot}
    owed = {e: o + interest.get(e, 0) for e, (o, _) in by_employer.items()}
    played.check("collection", "outstanding = sum over employers of max(0, owed + interest charged - paid) (VND)",
                 sum(max(0, owed[e] - p) for e, (_, p) in by_employer.items()),
                 sum(r["outstanding"] for r in snapshot))
    played.check("collection", "credit = sum over employers of max(0, paid - owed - interest charged) (VND)",
                 sum(max(0, p - owed[e]) for e, (_, p) in by_employer.items()), sum(r["credit"] for r in snapshot))
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


def operator_of(service: str, endpoints: Endpoints, token: str) -> ServiceClient:
    """An operator calling a service's HTTP API with a token (the local platform's generated ones)."""
    return ServiceClient(service, f"http://127.0.0.1:{endpoints.ports[service]}", token)


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
    operator = operator_of("arrears", played.endpoints, played.endpoints.operator_token)
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
        latest = max((date.fromisoformat(r["business_date"]) for r in operator.json("GET", "/runs")["runs"]),
                     default=None)
        first = min(law.due_date(p) for p in played.periods) + timedelta(days=1)
        days = [first + timedelta(days=n) for n in range((today - first).days + 1)]
        todo = [d for d in days if latest is None or d > latest]
        task = progress.add_task("arrears: one daily run per business date", total=len(days))
        progress.update(task, completed=len(days) - len(todo))
        for day in todo:
            operator.call("POST", "/runs", {"business_date": day.isoformat(), "reason": "demo: the month's runs"},
                          timeout=600)
            progress.advance(task)
    played.timings["arrears"] = time.monotonic() - started
    played.volumes["arrears"] = (len(todo), "daily runs")
    if not todo:
        # Debts that appear after a day's run are charged, back to their first day late, by the next run: with
        # today's run already done, that is tomorrow's. (Days run before they appeared are no obstacle.)
        console.print(f"[yellow]today's daily run ({latest}) predates this demo run: tomorrow's run charges its "
                      "debts' interest; the interest checks are skipped[/]")
        played.notes.append("arrears interest not checked: today's run predates this demo run")
        return
    await check_arrears(played, admin, operator, today)


async def check_arrears(played: Played, admin: asyncpg.Connection, operator: ServiceClient, today: date) -> None:
    like = played.prefix + "%"
    # The figures the runs saw (the ledger matched collection's when the runs began; interest made payable may
    # move credit afterwards, which tomorrow's run takes into account): the interest rule is checked on them.
    obligations = await admin.fetch("SELECT employer_code, period, fund, principal_seen AS assessed, due_date "
                                     "FROM arrears.debts WHERE employer_code LIKE $1 AND due_date IS NOT NULL", like)
    allocations = await admin.fetch("SELECT employer_code, period, fund, value_date, seen AS amount "
                                    "FROM arrears.payment_lines WHERE employer_code LIKE $1", like)
    expected = independent_interest(obligations, allocations, today)
    charged = {r["employer_code"]: r["amount"] for r in await admin.fetch(
        "SELECT employer_code, sum(amount)::bigint AS amount FROM arrears.interest_postings "
        "WHERE employer_code LIKE $1 GROUP BY 1 HAVING sum(amount) <> 0", like)}
    played.check("arrears", "interest charged: employers and total (VND) = computed here, day by day, from what "
                 "the runs saw",
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
    overdue = operator.json("GET", f"/overdue?days=0&as_of={today.isoformat()}&limit=10000")
    listed = sum(1 for e in overdue["employers"] if e["employer_code"].startswith(played.prefix))
    played.check("arrears", "employers listed overdue = employers that owe principal", owing, listed)
    played.figures["late-payment ratio"] = operator.json("GET", f"/late-payment-ratio?as_of={today.isoformat()}")


def _employer_totals(played: Played) -> dict[str, list[int]]:
    totals: dict[str, list[int]] = {}
    for month in played.ledger.months.values():
        entry = totals.setdefault(month.employer_code, [0, 0])
        entry[0] += month.total_owed
        entry[1] += month.total_paid
    return totals


# ----------------------------------------------------------------------------------------------------- payments
def months_from(today: date, count: int) -> list[str]:
    """This month and the next ``count - 1`` (benefits are paid for the month they are due in)."""
    index = today.year * 12 + today.month - 1
    return [f"{(index + n) // 12}-{(index + n) % 12 + 1:02d}" for n in range(count)]


def free_months(maker: ServiceClient, today: date, count: int) -> list[str]:
    """``count`` months from this one on without a payment run yet: a month is paid by one run, so a demo played
    again on the same platform pays its beneficiaries' next months."""
    months = months_from(today, 36)
    for start, period in enumerate(months):
        try:
            maker.call("GET", f"/runs/{period}")
        except OperatorError as refused:
            if refused.status != 404:
                raise
            return months[start:start + count]
    raise RuntimeError("every month of the next three years already has a payment run")


async def _consumed(admin: asyncpg.Connection, schema: str, sent: list[payroll.Sent]) -> int:
    ids = [json.loads(m.value)["event_id"] for m in sent]
    return await admin.fetchval(f"SELECT count(DISTINCT event_id) FROM {schema}.inbox WHERE event_id = ANY($1::uuid[])",
                                ids)


async def play_payments(console: Console, played: Played, admin: asyncpg.Connection) -> None:
    seed, settings, now = played.scenario.seed, played.settings, datetime.now(HANOI)
    maker = operator_of("payments", played.endpoints, played.endpoints.operator_token)
    checker = operator_of("payments", played.endpoints, played.endpoints.approver_token)
    played.pay_periods = free_months(maker, now.date(), played.scenario.months)
    awards = played.awards
    stop = asyncio.Event()
    bank = asyncio.create_task(wire.respond(settings.kafka_bootstrap, "payments.orders", "payments.bank-status",
                                            wire.bank(seed, answers.Rates()), "simulated-banks", stop,
                                            settings.topic_prefix, group="simulator-banks"))
    post = asyncio.create_task(wire.respond(settings.kafka_bootstrap, "payments.cash-orders", "payments.cash-status",
                                            wire.post_office(seed, answers.Rates()), "simulated-vnpost", stop,
                                            settings.topic_prefix, group="simulator-vnpost"))
    started = time.monotonic()
    try:
        with _progress(console) as progress:
            for number, period in enumerate(played.pay_periods):
                if number == 0:
                    decisions = registry.open_awards(played.population, period, awards, seed)
                    await _publish(settings, "registry: awards and beneficiaries' contacts", decisions, progress)
                else:
                    decisions = registry.month_changes(played.population, period, awards, seed)
                    await _publish(settings, f"{period}: suspensions, deaths, new accounts", decisions, progress)
                awarded = [m for m in decisions if m.topic == registry.AWARDS]
                await wait_until(f"{period}: payments reads the decisions", lambda: _consumed(admin, "payments",
                                                                                             awarded),
                                 len(awarded), progress, timeout=120)
                await _run_month(maker, checker, period, progress)
            ours = list(awards.awards)
            await wait_until("banks and paying offices answer", lambda: admin.fetchval(
                "SELECT count(*) FROM payments.payments WHERE award_id = ANY($1) "
                "AND state NOT IN ('created', 'approved', 'sent', 'accepted')", ours),
                await admin.fetchval("SELECT count(*) FROM payments.payments WHERE award_id = ANY($1)", ours),
                progress, timeout=180)
    finally:
        stop.set()
        played.figures["bank answers"], played.figures["paying office answers"] = await bank, await post
    played.timings["payments"] = time.monotonic() - started
    played.volumes["payments"] = (sum(len(registry.expected_payments(awards, p)) for p in played.pay_periods),
                                  "payments (prepared, approved, sent, answered)")
    await check_payments(played, admin)


async def _run_month(maker: ServiceClient, checker: ServiceClient, period: str, progress: Progress) -> None:
    task = progress.add_task(f"{period}: prepare, approve (another operator), send", total=3)
    maker.call("POST", f"/runs/{period}/prepare", {"reason": "demo: monthly run"})
    view = await _poll(lambda: maker.json("GET", f"/runs/{period}"), lambda v: v["state"] != "preparing", 300)
    progress.advance(task)
    if view["state"] == "prepared":
        checker.call("POST", f"/runs/{period}/approve", {
            "reason": "demo: totals checked", "expected_payments": view["payments"], "expected_amount": view["amount"]})
    progress.advance(task)
    await _poll(lambda: maker.json("GET", f"/runs/{period}"), lambda v: v["state"] == "sent", 300)
    progress.advance(task)


async def _poll(fetch, done, timeout: float):
    deadline = time.monotonic() + timeout
    value = fetch()
    while not done(value) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        value = fetch()
    if not done(value):
        raise RuntimeError(f"gave up after {timeout:.0f} s waiting; last seen: {str(value)[:300]}")
    return value


async def check_payments(played: Played, admin: asyncpg.Connection) -> None:
    ours = list(played.awards.awards)
    rows = await admin.fetch("SELECT award_id, to_char(period, 'YYYY-MM') AS period, amount, channel, state, "
                             "reason_code FROM payments.payments WHERE award_id = ANY($1)", ours)
    expected = {(award, period): amount for period in played.pay_periods
                for award, amount in registry.expected_payments(played.awards, period).items()}
    paid = {(r["award_id"], r["period"]): r["amount"] for r in rows}
    played.check("payments", "payments: count and VND = the awards due each month", _summary(expected), _summary(paid))
    played.check("payments", "awards paid twice, missed, or paid a wrong amount", 0,
                 sum(1 for k in expected.keys() | paid.keys() if expected.get(k) != paid.get(k)) +
                 len(rows) - len(paid))
    stopped = {a.award_id: a.stopped_from for a in played.awards.awards.values() if a.stopped_from}
    played.check("payments", "payments after a suspension or a death", 0,
                 sum(1 for r in rows if r["award_id"] in stopped and r["period"] >= stopped[r["award_id"]]))
    account = [r for r in rows if r["reason_code"] in answers.ACCOUNT_PROBLEMS]
    played.check("payments", "account rejections not ended in cash or returned", 0,
                 sum(1 for r in account if r["state"] not in ("rerouted", "paid", "unclaimed", "returned")))
    played.figures["payments"] = await admin.fetch(
        "SELECT channel, state, count(*) AS n, sum(amount)::bigint AS vnd FROM payments.payments "
        "WHERE award_id = ANY($1) GROUP BY 1, 2 ORDER BY 1, 2", ours)


# ------------------------------------------------------------------------------------------------ notifications
def mailbox_counts(endpoints: Endpoints) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{endpoints.mailbox_http_port}/_stats", timeout=10) as answer:
        stats = json.loads(answer.read())
    gateway = stats["gateway"]
    return {"email": stats["smtp"] or 0, "sms": gateway.get("/sms 202", 0), "push": gateway.get("/push 202", 0)}


async def play_notifications(console: Console, played: Played, admin: asyncpg.Connection,
                             before: dict[str, int]) -> None:
    """Waits until nothing of this run's participants is due any more, then compares with the mailbox."""
    started = time.monotonic()
    people = list(played.worker_contacts) + [b.code for b in played.population.beneficiaries]
    # Due anywhere on the platform (not only ours): the mailbox counts every participant's messages, so the two
    # are compared once nothing at all is being sent.
    due = ("SELECT count(*) FROM notifications.notifications WHERE cardinality($1::text[]) >= 0 "
           "AND state IN ('pending', 'sending') AND next_attempt_at <= now()")
    with _progress(console) as progress:
        ports = list(played.endpoints.ports.values())
        await wait_until("every service idle (outboxes published, no lag)", lambda: _idle_services(ports),
                         len(ports), progress, timeout=180)
        created = await admin.fetchval("SELECT count(*) FROM notifications.notifications "
                                       "WHERE participant_code = ANY($1)", people)
        remaining = await wait_until("notifications delivered (not waiting for quiet hours)",
                                     lambda: _left(admin, due, people, created), created, progress, timeout=180)
    played.check("notifications", "notifications due and not yet delivered", 0, created - remaining)
    sent, after = await _quiet_snapshot(played, admin)
    for channel in ("email", "sms", "push"):
        played.check("notifications", f"{channel}: received by the mailbox = recorded as sent (all participants, "
                     "during the run), once each",
                     sent.get(channel, 0), after[channel] - before[channel])
    # Who must be told: workers declared (per collection) for a month their employer has not paid (per collection),
    # who gave the registry their contact details.
    workers = {r["worker_code"] for r in await admin.fetch(
        "SELECT DISTINCT a.worker_code FROM collection.assessments a JOIN (SELECT employer_code, period "
        "FROM collection.obligations WHERE employer_code LIKE $1 AND fund <> 'interest' AND due_date < $2 "
        "GROUP BY 1, 2 HAVING sum(assessed) > sum(paid)) unpaid USING (employer_code, period)",
        played.prefix + "%", datetime.now(HANOI).date())} & set(played.worker_contacts)
    told = await admin.fetchval("SELECT count(DISTINCT participant_code) FROM notifications.notifications "
                                "WHERE participant_code = ANY($1) AND type = 'contributions_unpaid'", list(workers))
    played.check("notifications", "workers told their employer has not paid a month of theirs (with contact details)",
                 len(workers), told)
    played.timings["notifications"] = time.monotonic() - started
    played.volumes["notifications"] = (sum(sent.values()), "messages delivered after the other stages")
    played.figures["notifications"] = await admin.fetch(
        "SELECT type, channel, language, state, count(*) AS n FROM notifications.notifications "
        "WHERE participant_code = ANY($1) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4", people)


async def _quiet_snapshot(played: Played, admin: asyncpg.Connection) -> tuple[dict[str, int], dict[str, int]]:
    """What the service recorded as sent since the run began, and what the mailbox received, read at a moment
    when no message is in flight (the same sent count before and after reading the mailbox, none sending):
    otherwise a message received but not yet recorded would look like a duplicate."""
    query = ("SELECT channel, count(*) FILTER (WHERE state = 'sent' AND sent_at >= $1) AS sent, "
             "count(*) FILTER (WHERE state = 'sending') AS sending FROM notifications.notifications GROUP BY 1")
    deadline = time.monotonic() + 60
    while True:
        before = {r["channel"]: (r["sent"], r["sending"]) for r in await admin.fetch(query, played.started_at)}
        mailbox = mailbox_counts(played.endpoints)
        after = {r["channel"]: (r["sent"], r["sending"]) for r in await admin.fetch(query, played.started_at)}
        quiet = before == after and not any(sending for _, sending in after.values())
        if quiet or time.monotonic() > deadline:
            return {channel: sent for channel, (sent, _) in after.items()}, mailbox
        await asyncio.sleep(0.5)


async def _idle_services(ports: list[int]) -> int:
    """How many services show no outbox backlog and no consumer lag on /metrics (gauges the runtime keeps)."""
    idle = 0
    for port in ports:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
                lines = answer.read().decode().splitlines()
        except OSError:
            continue
        gauges = [line for line in lines if line.startswith(("ansinh_outbox_pending", "ansinh_consumer_lag_messages"))]
        idle += bool(gauges) and all(float(line.rsplit(" ", 1)[1]) == 0 for line in gauges)
    return idle


async def _left(admin: asyncpg.Connection, due: str, people: list[str], created: int) -> int:
    return created - await admin.fetchval(due, people)


# ------------------------------------------------------------------------------------------------------ report
def report(console: Console, played: Played) -> bool:
    table = Table("stage", "check", "expected", "found", "", title="Cross-checks against the simulators' ledgers")
    for check in played.checks:
        table.add_row(check.stage, check.what, _show(check.expected), _show(check.found),
                      "[green]holds[/]" if check.holds else "[red bold]DIFFERS[/]")
    console.print(table)
    ratio = played.figures.get("late-payment ratio")
    if ratio:  # the platform's, from arrears (every employer it knows)
        verdict = "[red]above[/]" if ratio["above_target"] else "[green]below[/]"
        console.print(f"platform's late-payment ratio {ratio['ratio']:.2%} ({ratio['overdue_principal']:,} overdue of "
                      f"{ratio['principal_due_in_year']:,} VND due in the year): {verdict} the "
                      f"{ratio['target']:.2%} target")
    if played.figures.get("payments"):
        payments = Table("channel", "state", "payments", "VND", title="Payments by channel and state")
        for r in played.figures["payments"]:
            payments.add_row(r["channel"], r["state"], f"{r['n']:,}", f"{r['vnd']:,}")
        console.print(payments)
    if played.figures.get("notifications"):
        told = Table("message", "channel", "language", "state", "count", title="Notifications")
        for r in played.figures["notifications"]:
            told.add_row(r["type"], r["channel"], r["language"], r["state"], f"{r['n']:,}")
        console.print(told)
    if played.timings:
        stages = Table("stage", "seconds", "what", "per second", title="Throughput per stage (waits included)")
        for stage, seconds in played.timings.items():
            count, what = played.volumes.get(stage, (0, ""))
            stages.add_row(stage, f"{seconds:,.1f}", f"{count:,} {what}", f"{count / seconds:,.0f}" if seconds else "")
        console.print(stages)
    if own := played.figures.get("this run's ratio"):
        overdue, due = own
        console.print(f"this run's employers: {overdue / due:.2%} late ({overdue:,} of {due:,} VND due), against the "
                      f"2.69% target")
    pending_sms = sum(r["n"] for r in played.figures.get("notifications") or () if r["channel"] == "sms"
                      and r["state"] == "pending")
    if pending_sms:
        console.print(f"{pending_sms:,} SMS wait for the end of the participants' quiet hours (Asia/Ho_Chi_Minh)")
    for note in played.notes:
        console.print(f"[yellow]note:[/] {note}")
    return all(c.holds for c in played.checks)


def _show(value: object) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, tuple):
        return " · ".join(_show(v) for v in value)
    return str(value)


async def play(console: Console, settings: PlatformSettings, scenario: Scenario,
               endpoints: Endpoints | None = None, stages: tuple[str, ...] = STAGES) -> bool:
    """Play ``stages`` of the scenario against running services and report; True when every cross-check holds."""
    return report(console, await run(console, settings, scenario, endpoints, stages))


async def run(console: Console, settings: PlatformSettings, scenario: Scenario,
              endpoints: Endpoints | None = None, stages: tuple[str, ...] = STAGES) -> Played:
    """Play ``stages`` of the scenario against running services; what was played and checked."""
    today = datetime.now(HANOI).date()
    prefix = run_prefix(scenario.seed)
    population = build(scenario.seed, scenario.employers, scenario.workers, scenario.beneficiaries, prefix=prefix)
    played = Played(scenario, settings, endpoints or Endpoints.local(settings), prefix,
                    periods_before(today, scenario.months), population)
    console.print(f"{scenario.employers:,} employers ({prefix}...), {scenario.workers:,} workers, "
                  f"{scenario.beneficiaries:,} beneficiaries; periods {', '.join(played.periods)}; seed {scenario.seed}")
    admin = await asyncpg.connect(settings.database_url)
    try:
        before = mailbox_counts(played.endpoints) if "notifications" in stages else None
        if "collection" in stages:
            await play_collection(console, settings, played, admin)
        if "arrears" in stages:
            await play_arrears(console, played, admin)
        if "payments" in stages:
            await play_payments(console, played, admin)
        if "notifications" in stages:
            await play_notifications(console, played, admin, before)
        await _own_ratio(played, admin)
    finally:
        await admin.close()
    return played


async def _own_ratio(played: Played, admin: asyncpg.Connection) -> None:
    """This run's employers' late-payment ratio (overdue principal over principal due), beside the platform's."""
    row = await admin.fetchrow("SELECT coalesce(sum(assessed - paid), 0)::bigint AS overdue, "
                               "coalesce(sum(assessed), 0)::bigint AS due FROM collection.obligations "
                               "WHERE employer_code LIKE $1 AND fund <> 'interest' AND due_date < $2",
                               played.prefix + "%", datetime.now(HANOI).date())
    if row["due"]:
        played.figures["this run's ratio"] = (row["overdue"], row["due"])
