"""A seeded, realistic month-by-month collection workload: declarations, revisions and remittances.

Employers of skewed size (a few large, many small) in the four minimum-wage regions declare their
workers for several periods. Per worker the salary is drawn once and drifts month to month; a share is
declared below the regional minimum wage (assessed on the floor and flagged) and a share above the
caps (social and health at 20 x base salary, unemployment at 20 x the minimum wage). Some workers are
corrected later (revision 1, a different salary, sometimes across the floor or the cap). Banks report
one payment per employer and period while the next period is being declared: most exact, some partial,
some overpaid (credit), some missing.

The same seed gives the same messages (event ids included), so runs compare like with like.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from schemas.collection import RemittanceReceived, SalaryDeclared
from schemas.envelope import encode, new_envelope
from services.collection.domain.assessment import assess
from services.collection.domain.law import Law, load_law
from services.collection.domain.model import Declaration, Period

DECLARATIONS, REMITTANCES = "collection.declarations", "collection.remittances"
ALL_FUNDS = ("sickness_maternity", "accident", "retirement", "health", "unemployment")
NO_UNEMPLOYMENT = ALL_FUNDS[:4]  # e.g. workers past retirement age
NAMES = ("Nguyễn Thị Hoa", "Trần Văn Nam", "Lê Thị Mai", "Phạm Minh Tuấn", "Hoàng Thu Trang", "Vũ Đức Anh",
         "Đặng Quốc Bảo", "Bùi Thị Lan", "Đỗ Hải Yến", "Ngô Thanh Sơn")
BUSINESS_DATE = date(2025, 9, 15)  # the service runs with ANSINH_BUSINESS_DATE set to this
HANOI = timezone(timedelta(hours=7))


@dataclass(frozen=True)
class Shares:
    """How the workload departs from the plain case (fractions)."""

    below_floor: float = 0.05      # declared below the regional minimum wage
    above_cap: float = 0.04        # above the social/health cap (some also above the unemployment cap)
    revised: float = 0.03          # of declarations are corrections (revision 1) of an earlier one
    paid_exact: float = 0.80       # remittances: the rest is partial, overpaid or missing
    paid_partial: float = 0.08
    paid_over: float = 0.05


@dataclass
class Workload:
    """Messages in publish order, as (catalogue topic, key, value), and what the system must emit."""

    messages: list[tuple[str, bytes, bytes]]
    declarations: int = 0
    revisions: int = 0
    remittances: int = 0
    below_floor: int = 0           # declarations (any revision) assessed on the floor
    above_cap: int = 0
    periods: list[str] = field(default_factory=list)
    employers: int = 0
    # Phase i (one a period, plus the last period's payments and corrections) ends at messages[ends[i]];
    # ``assessment_events`` had reached ``events_by[i]`` by then. A paced publisher starts phase i+1 once
    # phase i's events are out: payments then find their month assessed, as a month apart they would.
    ends: list[int] = field(default_factory=list)
    events_by: list[int] = field(default_factory=list)

    @property
    def assessment_events(self) -> int:
        """Events the system puts on collection.assessments: one Assessed or Adjusted per declaration,
        plus one UnderDeclarationFlagged per declaration below the floor."""
        return self.declarations + self.below_floor

    @property
    def bytes(self) -> int:
        return sum(len(k) + len(v) for _, k, v in self.messages)

    def describe(self) -> str:
        return (f"{self.declarations:,} declarations ({self.revisions:,} revisions, {self.below_floor:,} below the "
                f"floor, {self.above_cap:,} above a cap) and {self.remittances:,} remittances from "
                f"{self.employers:,} employers over {len(self.periods)} periods ({', '.join(self.periods)}); "
                f"{len(self.messages):,} messages, {self.bytes / 1e6:.1f} MB")


@dataclass
class _Employer:
    code: str
    region: int
    reduced_accident_rate: bool
    workers: list[tuple[str, str, str, int, tuple[str, ...]]]  # code, name, citizen id, salary, funds


def generate(count: int, employers: int | None = None, periods: int = 3, seed: int = 7,
             interleave: bool = False, shares: Shares = Shares(), law: Law | None = None) -> Workload:
    """``count`` declarations (revisions included) and the employers' remittances, reproducibly."""
    rng = random.Random(seed)
    law = law or load_law()
    months = [Period.of(BUSINESS_DATE).plus(-i) for i in range(periods, 0, -1)]
    revisions = round(count * shares.revised)
    per_period = -(-(count - revisions) // periods)
    employers = employers or max(1, per_period // 50)  # ~50 workers per employer, as nationally
    firms = _employers(rng, employers, per_period, law, months[0], shares)
    work = Workload([], periods=[str(p) for p in months], employers=employers)
    budget = count - revisions
    late: list[tuple[str, bytes, bytes]] = []  # the previous period's revisions and payments
    for month in months:
        batch, revisable, totals = [], [], {}
        for firm in rng.sample(firms, len(firms)):
            for i, worker in enumerate(firm.workers):
                if budget <= 0:
                    break
                budget -= 1
                salary = _drift(rng, worker[3], month, months[0])
                firm.workers[i] = worker[:3] + (salary,) + worker[4:]
                batch.append(_declaration(work, law, firm, worker, month, salary, 0, rng, totals))
                revisable.append((firm, firm.workers[i]))
        if interleave:
            batch = _round_robin(batch)
        work.messages += _interleave(rng, batch, late)
        work.ends.append(len(work.messages))
        work.events_by.append(work.assessment_events)
        late = _payments(rng, work, firms, month, totals, shares)
        for firm, worker in rng.sample(revisable, min(len(revisable), revisions // periods + (month == months[-1])
                                                      * (revisions % periods))):
            salary = _revised_salary(rng, worker[3], law, firm.region, month)
            late.append(_declaration(work, law, firm, worker, month, salary, 1, rng, None))
        rng.shuffle(late)
    work.messages += late
    work.ends.append(len(work.messages))
    work.events_by.append(work.assessment_events)
    return work


def _employers(rng: random.Random, count: int, workers: int, law: Law, first: Period, shares: Shares
               ) -> list[_Employer]:
    weights = [rng.paretovariate(1.3) for _ in range(count)]  # a few large employers, many small ones
    owners = rng.choices(range(count), weights, k=max(0, workers - count)) + list(range(count))
    firms = [_Employer(f"DN{e:06d}", rng.choice((1, 1, 2, 2, 3, 4)), rng.random() < 0.1, []) for e in range(count)]
    for n, owner in enumerate(owners):
        firm = firms[owner]
        floor = law.minimum_wage_on(first.first_day, firm.region)
        firm.workers.append((f"{n:010d}", rng.choice(NAMES), f"{rng.randrange(10**11, 10**12):012d}",
                             _salary(rng, floor, law, first, shares),
                             NO_UNEMPLOYMENT if rng.random() < 0.08 else ALL_FUNDS))
    return firms


def _salary(rng: random.Random, floor: int, law: Law, period: Period, shares: Shares) -> int:
    cap = 20 * law.base_salary_on(period.first_day)
    draw = rng.random()
    if draw < shares.below_floor:
        return _round(floor * rng.uniform(0.5, 0.97))
    if draw < shares.below_floor + shares.above_cap:
        return _round(cap * rng.uniform(1.05, 3.0))  # above ~2.1 x the social cap: also above unemployment's
    return _round(min(cap * 0.95, max(floor * 1.02, rng.lognormvariate(16.0, 0.45))))  # median ~8.9 M VND


def _drift(rng: random.Random, salary: int, month: Period, first: Period) -> int:
    return salary if month == first or rng.random() > 0.1 else _round(salary * rng.uniform(1.0, 1.1))


def _revised_salary(rng: random.Random, salary: int, law: Law, region: int, month: Period) -> int:
    floor = law.minimum_wage_on(month.first_day, region)
    draw = rng.random()
    if draw < 0.15:
        return _round(floor * rng.uniform(0.6, 0.95))  # corrected down below the floor
    if draw < 0.25:
        return _round(20 * law.base_salary_on(month.first_day) * rng.uniform(1.1, 1.5))
    return _round(max(1, salary * rng.uniform(0.85, 1.2)))


def _round(amount: float) -> int:
    return max(1000, int(amount) // 1000 * 1000)


def _declaration(work: Workload, law: Law, firm: _Employer, worker, month: Period, salary: int, revision: int,
                 rng: random.Random, totals: dict | None) -> tuple[str, bytes, bytes]:
    code, name, citizen, _, funds = worker
    assessment = assess(law, Declaration(firm.code, firm.region, firm.reduced_accident_rate, month, code, name,
                                         citizen, salary, funds, revision))
    work.declarations += 1
    work.revisions += revision > 0
    work.below_floor += assessment.floor_applied
    work.above_cap += assessment.cap_applied
    if totals is not None:
        totals[firm.code] = totals.get(firm.code, 0) + sum(a for _, _, a in assessment.lines)
    message = SalaryDeclared(employer_code=firm.code, employer_tax_code=f"0{int(firm.code[2:]):09d}",
                             region=firm.region, reduced_accident_rate=firm.reduced_accident_rate,
                             period=str(month), worker_code=code, worker_name=name, citizen_id=citizen,
                             contribution_salary=salary, funds=list(funds), revision=revision)
    sent = datetime(month.plus(1).year, month.plus(1).month, 5 + 10 * revision, 9, tzinfo=HANOI)
    return DECLARATIONS, firm.code.encode(), encode(new_envelope(message, "bench", event_id=_uuid(rng),
                                                                 occurred_at=sent))


def _payments(rng: random.Random, work: Workload, firms: list[_Employer], month: Period, totals: dict[str, int],
              shares: Shares) -> list[tuple[str, bytes, bytes]]:
    out = []
    value_date = min(month.plus(1).first_day.replace(day=20), BUSINESS_DATE)
    for firm in firms:
        owed, draw = totals.get(firm.code, 0), rng.random()
        if not owed or draw >= shares.paid_exact + shares.paid_partial + shares.paid_over:
            continue  # did not pay (yet)
        factor = 1.0 if draw < shares.paid_exact else (
            rng.uniform(0.3, 0.9) if draw < shares.paid_exact + shares.paid_partial else rng.uniform(1.05, 1.5))
        message = RemittanceReceived(payment_id=f"PAY-{month}-{firm.code}", employer_code=firm.code,
                                     amount=max(1, int(owed * factor)), value_date=value_date,
                                     bank_reference=f"BHXH {firm.code} {month}", bank_bin="970436")
        sent = datetime.combine(value_date, datetime.min.time(), HANOI).replace(hour=16)
        out.append((REMITTANCES, firm.code.encode(), encode(new_envelope(message, "bench", event_id=_uuid(rng),
                                                                         occurred_at=sent))))
        work.remittances += 1
    return out


def _interleave(rng: random.Random, batch: list, late: list) -> list:
    """``late`` items spread at random places through ``batch`` (payments and corrections arrive while the
    next month is being declared)."""
    if not late:
        return batch
    spots = sorted(rng.randrange(len(batch) + 1) for _ in late)
    out, j = [], 0
    for i, item in enumerate(batch):
        while j < len(spots) and spots[j] == i:
            out.append(late[j])
            j += 1
        out.append(item)
    return out + late[j:]


def _round_robin(batch: list) -> list:
    """Consecutive declarations from different employers (the worst case for batching obligations)."""
    by_key: dict[bytes, list] = {}
    for item in batch:
        by_key.setdefault(item[1], []).append(item)
    queues, out = list(by_key.values()), []
    while queues:
        out += [q.pop(0) for q in queues]
        queues = [q for q in queues if q]
    return out


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)
