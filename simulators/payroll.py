"""Employers' payroll systems and their banks, one month at a time.

Each month every employer declares its workers for the period (``SalaryDeclared``, revision 0), corrects a few
of last month's declarations (revision 1, a different salary) and, through a payroll bug, sends a few rows the
contract refuses. Then it pays what it computed it owes for the period, as its habit says: on time, late,
partly, too much, or not at all. Its bank reports the payment on ``collection.remittances`` either as fields
(``RemittanceReceived``) or inside a camt.054 notification, sometimes batch-booked with other employers'
transfers in one entry.

Every message and every expectation is recorded in the month's ledger: what was declared, what the employer
computed it owes per fund (:mod:`simulators.law`), what it paid and on which value date, and how many rows
must end in the DLQ.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from schemas.collection import CreditNotificationReceived, RemittanceReceived, SalaryDeclared
from schemas.envelope import encode, new_envelope
from simulators import camt054, law
from simulators.population import Employer, Population, Worker

DECLARATIONS, REMITTANCES = "collection.declarations", "collection.remittances"
HANOI = timezone(timedelta(hours=7))
SHARE_CORRECTED = 0.02       # of last month's declarations corrected this month
SHARE_BROKEN = 0.003         # of rows a payroll bug breaks (the contract refuses them)
# Banks that report incoming transfers as camt.054 documents (Vietcombank, BIDV); the others send fields.
CAMT_BANKS = ("970436", "970418")
BATCH = 4                    # employers' transfers one camt.054 entry may carry


@dataclass(frozen=True)
class Sent:
    """One message as published: topic, key, value, and whether the platform must accept it."""

    topic: str
    key: bytes
    value: bytes
    valid: bool = True


@dataclass(frozen=True)
class Payment:
    reference: str
    amount: int
    value_date: date
    reported_as: str  # "fields" or "camt054"


@dataclass
class EmployerMonth:
    """The employer's own account of one period: what it declared, owes and paid."""

    employer_code: str
    period: str
    declared: dict[str, int] = field(default_factory=dict)   # worker code -> salary of the latest revision
    revisions: dict[str, int] = field(default_factory=dict)  # worker code -> latest revision
    owed: dict[str, int] = field(default_factory=dict)       # fund -> amount (employer + employee parts)
    broken_rows: int = 0
    below_floor: int = 0   # valid declarations (any revision) below the regional minimum wage: each is flagged
    payments: list[Payment] = field(default_factory=list)

    @property
    def total_owed(self) -> int:
        return sum(self.owed.values())

    @property
    def total_paid(self) -> int:
        return sum(p.amount for p in self.payments)


@dataclass
class Ledger:
    """Everything the payroll systems and their banks sent, by employer and period."""

    months: dict[tuple[str, str], EmployerMonth] = field(default_factory=dict)

    def of(self, employer: str, period: str) -> EmployerMonth:
        return self.months.setdefault((employer, period), EmployerMonth(employer, period))


def _floor(employer: Employer, period: str) -> int:
    return law.wages(period)[1][employer.region - 1]


def _recompute(month: EmployerMonth, employer: Employer) -> None:
    workers = {w.code: w for w in employer.workers}
    owed: dict[str, int] = {}
    for code, salary in month.declared.items():
        worker = workers[code]
        for fund, amount in law.owed(salary, employer.region, worker.funds, employer.reduced_accident_rate,
                                     month.period).items():
            owed[fund] = owed.get(fund, 0) + amount
    month.owed = owed


def _declaration(employer: Employer, worker: Worker, period: str, salary: int, revision: int,
                 rng: random.Random, when: datetime) -> dict:
    message = SalaryDeclared(employer_code=employer.code, employer_tax_code=employer.tax_code, region=employer.region,
                             reduced_accident_rate=employer.reduced_accident_rate, period=period,
                             worker_code=worker.code, worker_name=worker.name, citizen_id=worker.citizen_id,
                             contribution_salary=salary, funds=list(worker.funds), revision=revision)
    return new_envelope(message, f"payroll-{employer.code}", occurred_at=when,
                        event_id=uuid.UUID(int=rng.getrandbits(128), version=4))


def _broken(envelope: dict, rng: random.Random) -> dict:
    """A row a payroll bug spoils in one field: the platform must dead-letter exactly it."""
    payload = dict(envelope["payload"])
    field_name, value = rng.choice((("worker_code", payload["worker_code"][:9]), ("contribution_salary", -1),
                                    ("period", payload["period"][:5] + "13"), ("funds", [])))
    payload[field_name] = value
    return {**envelope, "payload": payload}


def declare(population: Population, period: str, previous: str | None, ledger: Ledger, seed: int) -> list[Sent]:
    """The month's declarations for ``period``, plus corrections of ``previous``; recorded in ``ledger``."""
    rng = random.Random(f"{seed}/{population.prefix}/declare/{period}")
    when = datetime.combine(law.first_day(period) + timedelta(days=40), datetime.min.time(), HANOI)
    sent: list[Sent] = []
    for employer in population.employers:
        month = ledger.of(employer.code, period)
        for worker in employer.workers:
            envelope = _declaration(employer, worker, period, worker.salary, 0, rng, when)
            if rng.random() < SHARE_BROKEN:
                month.broken_rows += 1
                sent.append(Sent(DECLARATIONS, employer.code.encode(), encode(_broken(envelope, rng)), valid=False))
                continue
            month.declared[worker.code], month.revisions[worker.code] = worker.salary, 0
            month.below_floor += worker.salary < _floor(employer, period)
            sent.append(Sent(DECLARATIONS, employer.code.encode(), encode(envelope)))
        _recompute(month, employer)
        if previous is not None:
            sent += _corrections(employer, ledger.of(employer.code, previous), rng, when)
    return sent


def _corrections(employer: Employer, month: EmployerMonth, rng: random.Random, when: datetime) -> list[Sent]:
    sent = []
    workers = {w.code: w for w in employer.workers}
    for code in sorted(month.declared):
        if rng.random() >= SHARE_CORRECTED:
            continue
        salary = max(1_000_000, int(month.declared[code] * rng.choice((0.9, 1.1, 1.25))) // 1000 * 1000)
        revision = month.revisions[code] + 1
        month.declared[code], month.revisions[code] = salary, revision
        month.below_floor += salary < _floor(employer, month.period)
        envelope = _declaration(employer, workers[code], month.period, salary, revision, rng, when)
        sent.append(Sent(DECLARATIONS, employer.code.encode(), encode(envelope)))
    if sent:
        _recompute(month, employer)
    return sent


def pay(population: Population, period: str, ledger: Ledger, seed: int, not_after: date | None = None) -> list[Sent]:
    """Each employer's payment for ``period`` as its habit says, reported by its bank; recorded in ``ledger``.
    ``not_after`` (today, in a demo) bounds value dates: a bank reports no money from the future."""
    rng = random.Random(f"{seed}/{population.prefix}/pay/{period}")
    due = law.due_date(period)
    fields: list[Sent] = []
    for_camt: dict[tuple[str, date], list[camt054.Transfer]] = {}
    for employer in population.employers:
        month = ledger.of(employer.code, period)
        amount, value_date = _habit(employer.habit, month.total_owed, due, rng)
        if not_after is not None:
            value_date = min(value_date, not_after)
        if amount <= 0:
            continue
        reference = f"FT{period.replace('-', '')}{employer.code}"
        if employer.bank_bin in CAMT_BANKS:
            month.payments.append(Payment(reference, amount, value_date, "camt054"))
            for_camt.setdefault((employer.bank_bin, value_date), []).append(
                camt054.Transfer(employer.code, amount, f"E2E{period.replace('-', '')}{employer.code}",
                                 structured=rng.random() < 0.6))
            continue
        month.payments.append(Payment(reference, amount, value_date, "fields"))
        message = RemittanceReceived(payment_id=f"{employer.bank_bin}-{reference}", employer_code=employer.code,
                                     amount=amount, value_date=value_date, bank_reference=reference,
                                     bank_bin=employer.bank_bin)
        envelope = new_envelope(message, f"bank-{employer.bank_bin}", occurred_at=_booked(value_date),
                                event_id=uuid.UUID(int=rng.getrandbits(128), version=4))
        fields.append(Sent(REMITTANCES, employer.code.encode(), encode(envelope)))
    return fields + _camt_documents(for_camt, period, rng, population.prefix)


def _habit(habit: str, owed: int, due: date, rng: random.Random) -> tuple[int, date]:
    on_time = due - timedelta(days=rng.choice((0, 3, 10, 15)))  # pay days: transfers cluster on a few dates
    if habit == "on_time":
        return owed, on_time
    if habit == "late":
        return owed, due + timedelta(days=rng.randrange(3, 75))
    if habit == "partial":
        return owed * rng.randrange(50, 90) // 100, on_time
    if habit == "overpays":
        return owed * rng.randrange(105, 125) // 100, on_time
    return 0, on_time  # missing


def _camt_documents(transfers: dict[tuple[str, date], list[camt054.Transfer]], period: str,
                    rng: random.Random, run: str) -> list[Sent]:
    """One document per bank and value date. References carry the run's employer prefix: banks never reuse
    one, and two demo runs on one platform must not either."""
    sent = []
    month = period.replace("-", "")
    for number, ((bank_bin, value_date), batch) in enumerate(sorted(transfers.items())):
        entries = []
        for start in range(0, len(batch), BATCH):
            entries.append((f"FT{run}{month}B{number:04d}{start // BATCH:03d}", value_date,
                            batch[start:start + BATCH]))
        document = camt054.notification(f"N{bank_bin}{run}{month}{number:05d}", value_date, entries)
        envelope = new_envelope(CreditNotificationReceived(bank_bin=bank_bin, document=document),
                                f"bank-{bank_bin}", occurred_at=_booked(value_date),
                                event_id=uuid.UUID(int=rng.getrandbits(128), version=4))
        sent.append(Sent(REMITTANCES, bank_bin.encode(), encode(envelope)))
    return sent


def _booked(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), HANOI) + timedelta(hours=17)
