"""Periods (months) as the payments service uses them: ``YYYY-MM`` on the wire, the month's first day in SQL."""
from __future__ import annotations

import re
from datetime import date

from services.payments.domain.errors import InvalidPeriod

_PERIOD = re.compile(r"(199[5-9]|20[0-9]{2})-(0[1-9]|1[0-2])")


def parse_period(text: str) -> date:
    """``2026-01`` -> date(2026, 1, 1); ``InvalidPeriod`` for anything else (no value echoed)."""
    match = _PERIOD.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise InvalidPeriod("period must be YYYY-MM (1995-01 to 2099-12)")
    return date(int(match[1]), int(match[2]), 1)


def period_text(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def previous_period(day: date) -> date:
    return date(day.year - 1, 12, 1) if day.month == 1 else date(day.year, day.month - 1, 1)


def next_period(day: date) -> date:
    return date(day.year + 1, 1, 1) if day.month == 12 else date(day.year, day.month + 1, 1)


def month_of(day: date) -> date:
    return day.replace(day=1)
