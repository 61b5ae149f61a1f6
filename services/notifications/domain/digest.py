"""The monthly contribution digest: one message per worker and month, whatever the number of lines.

Collection publishes one ContributionAssessed per (employer, worker, month) and a ContributionAdjusted per
later revision, each with ten lines (fund x party). Telling the worker each of them would be noise, so the
lines are summed per worker and month (every employer of the month together) and told once.

When: the digest is due at the end of the business day (Asia/Ho_Chi_Minh) on which the first assessment
of that worker and month happened, so the declarations an employer sends together (and a second employer's
the same day) are in it; a sweep emits every due digest. Revisions after that are kept but not told again
(a second message for a correction would alarm more than inform; the history shows it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Iterable
from uuid import NAMESPACE_URL, UUID, uuid5
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_NAMESPACE = uuid5(NAMESPACE_URL, "https://ansinh/notifications/digest")


@dataclass(frozen=True)
class DigestPart:
    """One employer's latest assessed revision of a worker's month (amounts: the sum of its lines by party)."""

    worker_code: str
    period: str
    employer_code: str
    revision: int
    declared_salary: int
    employee_amount: int
    employer_amount: int


@dataclass(frozen=True)
class Digest:
    worker_code: str
    period: str
    employers: int
    declared_salary: int
    employee_amount: int
    employer_amount: int

    @property
    def total(self) -> int:
        return self.employee_amount + self.employer_amount


def party_sums(lines: Iterable[tuple[str, int]]) -> tuple[int, int]:
    """(employee, employer) sums of ``(party, amount)`` lines."""
    employee = employer = 0
    for party, amount in lines:
        if party == "employee":
            employee += amount
        else:
            employer += amount
    return employee, employer


def summed(parts: Iterable[DigestPart]) -> Digest | None:
    parts = list(parts)
    if not parts:
        return None
    first = parts[0]
    return Digest(first.worker_code, first.period, len(parts), sum(p.declared_salary for p in parts),
                  sum(p.employee_amount for p in parts), sum(p.employer_amount for p in parts))


def due_at(first_assessed: datetime, delay_s: float | None = None) -> datetime:
    """When the digest may go: the end of ``first_assessed``'s business day, or ``delay_s`` after it."""
    if delay_s is not None:
        return first_assessed + timedelta(seconds=delay_s)
    day = first_assessed.astimezone(BUSINESS_TZ).date()
    return datetime.combine(day + timedelta(days=1), time(0), BUSINESS_TZ)


def digest_event_id(worker_code: str, period: str) -> UUID:
    """The digest's own event id (the notifications' unique key): the same worker and month always give the
    same id, so a digest emitted twice (a sweep retried after a crash) is still one row per channel."""
    return uuid5(_NAMESPACE, f"contributions/{worker_code}/{period}")
