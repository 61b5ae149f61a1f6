"""What an employer's payroll software knows of the law: rates, the regional floor, the caps, the due date.

Deliberately its own small table, not the collection service's: the demo compares what employers computed
they owe with what the platform assessed, so the two must not share code.
"""
from __future__ import annotations

import calendar
from datetime import date

# (fund, party, basis points), in force since 2018 (domain brief). Accident 0.5%, or 0.3% on the reduced rate.
RATES = (("sickness_maternity", "employer", 300), ("accident", "employer", 50), ("retirement", "employer", 1400),
         ("retirement", "employee", 800), ("health", "employer", 300), ("health", "employee", 150),
         ("unemployment", "employer", 100), ("unemployment", "employee", 100))
REDUCED_ACCIDENT_BPS = 30
# (effective from, base salary, regional minimum wages I-IV)
WAGES = ((date(2022, 7, 1), 1_490_000, (4_680_000, 4_160_000, 3_640_000, 3_250_000)),
         (date(2023, 7, 1), 1_800_000, (4_680_000, 4_160_000, 3_640_000, 3_250_000)),
         (date(2024, 7, 1), 2_340_000, (4_960_000, 4_410_000, 3_860_000, 3_450_000)),
         (date(2026, 1, 1), 2_340_000, (5_310_000, 4_730_000, 4_140_000, 3_700_000)))
CAP_MULTIPLE = 20
NEW_LAW = date(2025, 7, 1)  # Law 41/2024: due by the end of the following month


def first_day(period: str) -> date:
    year, month = map(int, period.split("-"))
    return date(year, month, 1)


def wages(period: str) -> tuple[int, tuple[int, ...]]:
    start = first_day(period)
    return next((base, regions) for since, base, regions in reversed(WAGES) if since <= start)


def due_date(period: str) -> date:
    start = first_day(period)
    if start >= NEW_LAW:
        year, month = (start.year + start.month // 12, start.month % 12 + 1)
    else:
        year, month = start.year, start.month
    return date(year, month, calendar.monthrange(year, month)[1])


def owed(salary: int, region: int, funds: tuple[str, ...], reduced_accident: bool, period: str) -> dict[str, int]:
    """What one worker's month costs, per fund (employer and employee parts added), rounded half up per part."""
    base, regions = wages(period)
    floor = regions[region - 1]
    social = min(max(salary, floor), CAP_MULTIPLE * base)
    unemployment = min(max(salary, floor), CAP_MULTIPLE * floor)
    out: dict[str, int] = {}
    for fund, party, bps in RATES:
        if fund not in funds:
            continue
        if fund == "accident" and reduced_accident:
            bps = REDUCED_ACCIDENT_BPS
        basis = unemployment if fund == "unemployment" else social
        out[fund] = out.get(fund, 0) + (basis * bps + 5_000) // 10_000
    return out
