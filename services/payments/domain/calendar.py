"""The payment calendar: which days are working days, when bank transfers go out, when cash is paid.

Law as data: the days off of each year and the cash windows live in ``calendar.json`` (loaded at start-up),
never in code. A year the table does not cover is refused (``CalendarNotCovered``): guessing a Tet date
would send public money on a day no bank works.
"""
from __future__ import annotations

import json
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

DEFAULT_CALENDAR = Path(__file__).resolve().parent.parent / "calendar.json"
CashPlace = Literal["payment_point", "post_office"]


class CalendarNotCovered(LookupError):
    """The calendar table has no row for the year (or the cash windows no rule for the date) asked."""


@dataclass(frozen=True)
class CashWindow:
    place: CashPlace
    pay_from: date
    pay_until: date


@dataclass(frozen=True, eq=False)
class PaymentCalendar:
    days_off: dict[int, frozenset[date]]            # year -> weekdays that are not working days
    working_weekend_days: dict[int, frozenset[date]]  # year -> Saturdays/Sundays worked instead (swaps)
    unverified_years: frozenset[int]                 # years whose dates nobody has checked against the notice
    window_starts: tuple[date, ...]
    windows: tuple[dict[str, tuple[int, int]], ...]

    def check_covered(self, year: int) -> None:
        if year not in self.days_off:
            covered = ", ".join(str(y) for y in sorted(self.days_off))
            raise CalendarNotCovered(f"the payment calendar has no table for {year} (it covers {covered})")

    def is_working_day(self, day: date) -> bool:
        self.check_covered(day.year)
        if day in self.working_weekend_days[day.year]:
            return True
        return day.weekday() < 5 and day not in self.days_off[day.year]

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day

    def first_working_day(self, period: str) -> date:
        """The first working day of the month ``YYYY-MM``: bank transfers of that period go out on it."""
        return self.next_working_day(_month_start(period))

    def cash_window(self, period: str, place: CashPlace) -> CashWindow:
        """Days of the month a paying office of that kind pays cash (payment points 2-10, post offices 11-25)."""
        start = _month_start(period)
        i = bisect_right(self.window_starts, start) - 1
        if i < 0:
            raise CalendarNotCovered(f"no cash window rule in force for {period}")
        first, last = self.windows[i][place]
        return CashWindow(place, start.replace(day=first), start.replace(day=last))


def _month_start(period: str) -> date:
    year, month = period.split("-")
    return date(int(year), int(month), 1)


def load_calendar(path: Path | str = DEFAULT_CALENDAR) -> PaymentCalendar:
    return parse_calendar(json.loads(Path(path).read_text(encoding="utf-8")))


def parse_calendar(data: dict) -> PaymentCalendar:
    days_off: dict[int, frozenset[date]] = {}
    worked: dict[int, frozenset[date]] = {}
    unverified = set()
    for year_text, row in data["years"].items():
        year = int(year_text)
        holidays = {date.fromisoformat(h["date"]) for h in row["holidays"]}
        extra = {date.fromisoformat(d) for d in row.get("working_weekend_days", [])}
        _check_year(year, holidays, extra)
        days_off[year], worked[year] = frozenset(holidays), frozenset(extra)
        if row.get("verify"):
            unverified.add(year)
    rules = sorted(((date.fromisoformat(w["effective_from"]), w) for w in data["cash_windows"]), key=lambda p: p[0])
    windows = tuple({place: _window(rule[place]) for place in ("payment_point", "post_office")} for _, rule in rules)
    return PaymentCalendar(days_off, worked, frozenset(unverified), tuple(s for s, _ in rules), windows)


def _check_year(year: int, holidays: set[date], worked: set[date]) -> None:
    stray = [d for d in holidays | worked if d.year != year]
    if stray:
        raise ValueError(f"calendar year {year} lists a day of another year")
    if any(d.weekday() < 5 for d in worked):
        raise ValueError(f"calendar year {year}: a working weekend day must be a Saturday or a Sunday")


def _window(days: list[int]) -> tuple[int, int]:
    first, last = days
    if not 1 <= first <= last <= 28:  # every month has day 28: a window never runs off the month
        raise ValueError("a cash window must lie within days 1-28 of the month")
    return first, last
