"""Domain types of collection: declarations, assessments and their lines (not the wire schemas)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache


@dataclass(frozen=True, order=True)
class Period:
    """A contribution month."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> "Period":
        return _parse_period(text)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    def plus(self, months: int) -> "Period":
        index = self.year * 12 + (self.month - 1) + months
        return Period(index // 12, index % 12 + 1)

    @property
    def last_day(self) -> date:
        nxt = self.plus(1).first_day
        return date.fromordinal(nxt.toordinal() - 1)

    @classmethod
    def of(cls, day: date) -> "Period":
        return cls(day.year, day.month)


@lru_cache(maxsize=1024)
def _parse_period(text: str) -> Period:
    year, month = text.split("-")
    return Period(int(year), int(month))


@dataclass(frozen=True, slots=True)  # slots: one of these per declaration, built faster
class Declaration:
    employer_code: str
    region: int
    reduced_accident_rate: bool
    period: Period
    worker_code: str
    worker_name: str
    citizen_id: str
    salary: int
    funds: tuple[str, ...]
    revision: int


Line = tuple[str, str, int]  # (fund, party, amount VND)


@dataclass(frozen=True, slots=True)  # slots: one of these per declaration, built faster
class Assessment:
    """What an employer owes for one worker and month under one revision."""

    employer_code: str
    worker_code: str
    period: Period
    revision: int
    declared_salary: int
    social_base: int
    unemployment_base: int
    floor: int
    floor_applied: bool
    cap_applied: bool
    due_date: date
    lines: tuple[Line, ...]

    @property
    def total(self) -> int:
        return sum(amount for _, _, amount in self.lines)

    def by_fund(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for fund, _, amount in self.lines:
            out[fund] = out.get(fund, 0) + amount
        return out
