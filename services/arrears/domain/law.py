"""Arrears' law tables: due-date rules by period and interest rules by day, loaded from ``law.json``.

Every interest rule is reduced to one shape, so that the pure function and the SQL of the run read the same
numbers: on a day in force, a debt late at least ``min_days_late`` days accrues
``round_half_up(unpaid * num / den)`` dong.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from services.arrears.domain.errors import NoLawForPeriod

DEFAULT_LAW = Path(__file__).resolve().parent.parent / "law.json"
BPS = 10_000  # basis points in one


@dataclass(frozen=True)
class InterestRule:
    """One effective-dated interest rule: days ``start``..``end`` (inclusive; ``end`` None: still in force)."""

    id: str
    start: date
    end: date | None
    num: int            # daily rate = num / den
    den: int
    min_days_late: int  # a day d accrues only when d - due_date >= min_days_late
    verify: bool = False

    def daily(self, unpaid: int) -> int:
        """Interest of one day on ``unpaid`` dong, rounded half up to the dong (integer arithmetic only)."""
        return (2 * unpaid * self.num + self.den) // (2 * self.den) if unpaid > 0 else 0


@dataclass(frozen=True)
class Law:
    due_rules: tuple[tuple[date, str], ...]   # (first period it applies to, rule name), sorted
    interest_rules: tuple[InterestRule, ...]  # sorted by start, contiguous

    def due_rule_for(self, period: date) -> str:
        i = bisect_right([start for start, _ in self.due_rules], period) - 1
        if i < 0:
            raise NoLawForPeriod(f"no due-date rule in force for the period (the law tables start "
                                 f"{self.due_rules[0][0]:%Y-%m})")
        return self.due_rules[i][1]

    def rule_on(self, day: date) -> InterestRule | None:
        """The interest rule in force on ``day``; None before the tables start (no interest accrues)."""
        i = bisect_right([r.start for r in self.interest_rules], day) - 1
        return self.interest_rules[i] if i >= 0 else None


def _rule(raw: dict, end: date | None) -> InterestRule:
    start = date.fromisoformat(raw["from"])
    if "daily_bps" in raw:
        num, den = int(raw["daily_bps"]), BPS
    else:  # a yearly rate, spread over the days of a conventional year
        num, den = int(raw["yearly_bps"]), BPS * int(raw["day_count"])
    if num < 0 or den <= 0 or int(raw["min_days_late"]) < 1:
        raise ValueError(f"interest rule {raw['id']}: rate and min_days_late must be positive")
    return InterestRule(raw["id"], start, end, num, den, int(raw["min_days_late"]), bool(raw.get("verify", False)))


def parse_law(raw: dict) -> Law:
    dues = tuple(sorted((date.fromisoformat(r["effective_from_period"] + "-01"), r["due"])
                        for r in raw["due_date_rules"]))
    for _, rule in dues:
        if rule not in ("end_of_period_month", "end_of_following_month"):
            raise ValueError(f"unknown due-date rule {rule!r}")
    rows = sorted(raw["interest_rules"], key=lambda r: r["from"])
    ends = [date.fromisoformat(r["from"]) - timedelta(days=1) for r in rows[1:]] + [None]
    rules = tuple(_rule(r, end) for r, end in zip(rows, ends))
    if len({r.id for r in rules}) != len(rules):
        raise ValueError("interest rule ids must be unique")
    return Law(dues, rules)


def load_law(path: Path | str = DEFAULT_LAW) -> Law:
    return parse_law(json.loads(Path(path).read_text()))
