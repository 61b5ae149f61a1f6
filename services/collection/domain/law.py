"""Effective-dated law tables and lookups. Loaded from ``law.json``; the service never hard-codes a rate."""
from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date
from pathlib import Path

FUNDS = ("sickness_maternity", "accident", "retirement", "health", "unemployment")
DEFAULT_LAW = Path(__file__).resolve().parent.parent / "law.json"


class NoLawInForce(LookupError):
    """No table row is in force for the date asked: the law tables do not reach back that far."""


@dataclass(frozen=True)
class FundRate:
    fund: str
    employer_bps: int
    employee_bps: int
    reduced_employer_bps: int | None = None


@dataclass(frozen=True)
class Caps:
    social_health_base_salary_multiple: int
    unemployment_minimum_wage_multiple: int


@dataclass(frozen=True)
class Dated:
    """Rows of one table, sorted by their effective date; ``at`` finds the row in force."""

    starts: tuple[date, ...]
    rows: tuple

    @classmethod
    def of(cls, pairs: list[tuple[date, object]]) -> "Dated":
        pairs = sorted(pairs, key=lambda p: p[0])
        return cls(tuple(p[0] for p in pairs), tuple(p[1] for p in pairs))

    def at(self, day: date, what: str):
        i = bisect_right(self.starts, day) - 1
        if i < 0:
            raise NoLawInForce(f"no {what} in force on {day.isoformat()} (tables start {self.starts[0].isoformat()})")
        return self.rows[i]


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: lookups are cached per Law
class Law:
    rates: Dated              # -> dict[fund, FundRate]
    base_salary: Dated        # -> int VND
    minimum_wage: Dated       # -> dict[region(int), int VND]
    caps: Dated               # -> Caps
    due_rules: Dated          # keyed by period start -> "end_of_period_month" | "end_of_following_month"
    allocation_order: Dated   # -> tuple[str, ...]
    max_monthly_salary: int
    max_periods_ahead: int

    def rates_on(self, day: date) -> dict[str, FundRate]:
        return self.rates.at(day, "contribution rates")

    def base_salary_on(self, day: date) -> int:
        return self.base_salary.at(day, "base salary")

    def minimum_wage_on(self, day: date, region: int) -> int:
        return self.minimum_wage.at(day, "regional minimum wage")[region]

    def caps_on(self, day: date) -> Caps:
        return self.caps.at(day, "contribution salary caps")

    def due_rule_for(self, period_start: date) -> str:
        return self.due_rules.at(period_start, "due-date rule")

    def allocation_order_on(self, day: date) -> tuple[str, ...]:
        return self.allocation_order.at(day, "allocation order")


def _d(text: str) -> date:
    return date.fromisoformat(text)


def load_law(path: Path = DEFAULT_LAW) -> Law:
    """Read the law tables; a new decree is a new row with its effective date."""
    raw = json.loads(Path(path).read_text())
    by_start: dict[date, dict[str, FundRate]] = {}
    for row in raw["rates"]:
        by_start.setdefault(_d(row["effective_from"]), {})[row["fund"]] = FundRate(
            row["fund"], row["employer_bps"], row["employee_bps"], row.get("reduced_employer_bps"))
    # A rate row replaces only its fund: carry the others forward from the previous start.
    merged, current = [], {}
    for start in sorted(by_start):
        current = {**current, **by_start[start]}
        merged.append((start, dict(current)))
    return Law(
        rates=Dated.of(merged),
        base_salary=Dated.of([(_d(r["effective_from"]), r["amount"]) for r in raw["base_salary"]]),
        minimum_wage=Dated.of([(_d(r["effective_from"]), {int(k): v for k, v in r["regions"].items()})
                               for r in raw["regional_minimum_wage"]]),
        caps=Dated.of([(_d(r["effective_from"]), Caps(r["social_health_base_salary_multiple"],
                                                       r["unemployment_minimum_wage_multiple"]))
                       for r in raw["caps"]]),
        due_rules=Dated.of([(_d(r["effective_from_period"] + "-01"), r["due"]) for r in raw["due_date_rules"]]),
        allocation_order=Dated.of([(_d(r["effective_from"]), tuple(r["order"])) for r in raw["allocation_order"]]),
        max_monthly_salary=raw["plausibility"]["max_monthly_salary"],
        max_periods_ahead=raw["plausibility"]["max_periods_ahead"],
    )
