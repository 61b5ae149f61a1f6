"""A seeded population: employers in the four minimum-wage regions with their workers, and beneficiaries.

Sizes are skewed as they are in the country (many small employers, a few large); salaries spread around each
region's minimum wage, with a share declared below it and a share above the caps; most beneficiaries are
paid to a bank account in their own name, the rest in cash at a paying office.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from simulators.names import full_name

# Provinces by minimum-wage region, with the province part of a citizen id (CCCD) and a paying office prefix.
PROVINCES = {1: (("001", "HN"), ("079", "HCM"), ("031", "HP")), 2: (("048", "DN"), ("092", "CT")),
             3: (("038", "TH"), ("040", "NA")), 4: (("002", "HG"), ("011", "DB"))}
REGION_SHARE = {1: 0.45, 2: 0.25, 3: 0.18, 4: 0.12}
# NAPAS BINs of banks employers and beneficiaries use (Vietcombank, VietinBank, BIDV, Agribank, Techcombank, MB).
BANKS = ("970436", "970415", "970418", "970405", "970407", "970422")
ALL_FUNDS = ("sickness_maternity", "accident", "retirement", "health", "unemployment")
# How employers pay, with their shares (the rest of a month's behaviour is in simulators.payroll).
PAYMENT_HABITS = (("on_time", 0.80), ("late", 0.11), ("partial", 0.04), ("overpays", 0.03), ("missing", 0.02))
BENEFITS = (("old_age_pension", "monthly", 0.62, (3_500_000, 15_000_000)),
            ("survivor_allowance", "monthly", 0.10, (1_400_000, 3_500_000)),
            ("accident_disease_allowance", "monthly", 0.03, (700_000, 6_000_000)),
            ("unemployment_benefit", "monthly", 0.12, (2_500_000, 9_000_000)),
            ("sickness_allowance", "one_off", 0.05, (500_000, 4_000_000)),
            ("maternity_allowance", "one_off", 0.05, (9_000_000, 30_000_000)),
            ("funeral_allowance", "one_off", 0.03, (23_400_000, 23_400_000)))
SHARE_PAID_IN_CASH = 0.19  # 81% to accounts in July 2025 (domain brief)


@dataclass(frozen=True)
class Worker:
    code: str
    name: str
    citizen_id: str
    salary: int
    funds: tuple[str, ...]


@dataclass(frozen=True)
class Employer:
    code: str
    tax_code: str
    region: int
    province: str
    reduced_accident_rate: bool
    bank_bin: str
    habit: str
    workers: tuple[Worker, ...]


@dataclass(frozen=True)
class Beneficiary:
    code: str
    name: str
    citizen_id: str
    sex: str
    province: str
    benefit_type: str
    recurrence: str
    amount: int
    channel: dict
    language: str
    contact: dict


@dataclass
class Population:
    seed: int
    prefix: str = "SIM"
    employers: list[Employer] = field(default_factory=list)
    beneficiaries: list[Beneficiary] = field(default_factory=list)

    @property
    def workers(self) -> list[Worker]:
        return [w for e in self.employers for w in e.workers]


def _sizes(rng: random.Random, employers: int, workers: int) -> list[int]:
    weights = [rng.paretovariate(1.2) for _ in range(employers)]
    total = sum(weights)
    sizes = [max(1, int(workers * w / total)) for w in weights]
    for i in range(workers - sum(sizes)):  # hand out the rounding remainder (or take it back) one by one
        sizes[i % employers] += 1
    while sum(sizes) > workers:
        largest = max(range(employers), key=sizes.__getitem__)
        sizes[largest] -= 1
    return sizes


def _citizen_id(rng: random.Random, province: str, sex: str, birth_year: int) -> str:
    century = 0 if birth_year < 2000 else 2
    return f"{province}{century + (sex == 'f')}{birth_year % 100:02d}{rng.randrange(10**6):06d}"


def _salary(rng: random.Random, region: int) -> int:
    minimum = {1: 4_960_000, 2: 4_410_000, 3: 3_860_000, 4: 3_450_000}[region]
    draw = rng.random()
    if draw < 0.03:                       # declared below the regional minimum wage (an employer error)
        return rng.randrange(minimum // 2, minimum) // 1000 * 1000
    if draw < 0.05:                       # above the social and health cap (20 x 2,340,000)
        return rng.randrange(47_000_000, 150_000_000) // 1000 * 1000
    return max(minimum, int(minimum * rng.lognormvariate(0.55, 0.35)) // 1000 * 1000)


def build(seed: int, employers: int, workers: int, beneficiaries: int, prefix: str = "SIM") -> Population:
    """The same arguments give the same population. ``prefix`` (capital letters) keeps two runs apart: their
    employer codes and the event ids the simulators derive from it (a platform drops a repeated event id)."""
    if not (prefix.isascii() and prefix.isalnum() and prefix.isupper() and 1 <= len(prefix) <= 7):
        raise ValueError("prefix must be 1-7 capital letters or digits")
    if employers < 1 or workers < employers:
        raise ValueError("need at least one employer and one worker per employer")
    rng = random.Random(seed)
    population = Population(seed, prefix)
    # Distinct 10-digit insurance codes, drawn apart from the rest: two runs of one seed (other prefixes) get the
    # same population under other codes, so a platform that saw the first run sees new people in the second.
    codes = random.Random(f"{seed}/{prefix}/codes").sample(range(10**9, 10**10), workers + beneficiaries)
    sizes = _sizes(rng, employers, workers)
    habits, habit_weights = zip(*PAYMENT_HABITS)
    next_code = iter(codes)
    for index, size in enumerate(sizes):
        region = rng.choices(list(REGION_SHARE), list(REGION_SHARE.values()))[0]
        province, _ = rng.choice(PROVINCES[region])
        staff = []
        for _ in range(size):
            sex = rng.choice("fm")
            funds = ALL_FUNDS if rng.random() > 0.04 else ALL_FUNDS[:4]  # past retirement age: no unemployment
            staff.append(Worker(f"{next(next_code):010d}", full_name(rng, sex),
                                _citizen_id(rng, province, sex, rng.randrange(1965, 2006)), _salary(rng, region), funds))
        population.employers.append(Employer(
            code=f"{prefix}{index + 1:06d}", tax_code=f"{rng.randrange(10**9, 10**10)}", region=region,
            province=province, reduced_accident_rate=rng.random() < 0.1, bank_bin=rng.choice(BANKS),
            habit=rng.choices(habits, habit_weights)[0], workers=tuple(staff)))
    for index in range(beneficiaries):
        population.beneficiaries.append(_beneficiary(rng, f"{next(next_code):010d}", index))
    return population


def _beneficiary(rng: random.Random, code: str, index: int) -> Beneficiary:
    kinds = [b for b in BENEFITS]
    benefit_type, recurrence, _, (low, high) = rng.choices(kinds, [b[2] for b in kinds])[0]
    region = rng.choices(list(REGION_SHARE), list(REGION_SHARE.values()))[0]
    province, office = rng.choice(PROVINCES[region])
    sex = rng.choice("fm")
    name = full_name(rng, sex)
    born = rng.randrange(1940, 1966) if benefit_type in ("old_age_pension", "survivor_allowance") else \
        rng.randrange(1970, 2004)
    amount = low if low == high else rng.randrange(low, high) // 1000 * 1000
    if rng.random() < SHARE_PAID_IN_CASH:
        channel = {"kind": "cash", "paying_office": f"BD-{office}-{rng.randrange(1, 40):03d}",
                   "home_delivery": rng.random() < 0.05}
    else:
        channel = {"kind": "bank", "bank_bin": rng.choice(BANKS),
                   "account_number": f"{rng.randrange(10**9, 10**13)}", "account_name": name}
    language = "en" if rng.random() < 0.03 else "vi"
    phone = f"+849{rng.randrange(10**8):08d}"
    wants = [c for c, share in (("sms", 0.9), ("email", 0.4), ("push", 0.35)) if rng.random() < share]
    contact = {"phone": phone, "language": language, "channels": wants,
               "email": f"nguoi{index}.{code[-4:]}@example.vn" if "email" in wants else None,
               "app_token": f"tok-{code}-{rng.randrange(10**8)}" if "push" in wants else None}
    return Beneficiary(code, name, _citizen_id(rng, province, sex, born), sex, province, benefit_type, recurrence,
                       amount, channel, language, contact)
