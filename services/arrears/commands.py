"""Commands of arrears' ledger, translated from collection's events at the edge, and summed per debt.

A batch of 2,000 assessments (one worker-month each, ten lines) becomes one row per employer, period and
fund: the ledger never holds per-worker rows (the ops side keeps who was declared, in its own table).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Iterable

from schemas.collection import ContributionAdjusted, ContributionAssessed, RemittanceAllocated
from services.arrears.domain.due import due_date
from services.arrears.domain.errors import NoLawForPeriod
from services.arrears.domain.law import Law


@dataclass(frozen=True)
class AddPrincipal:
    """Add ``amount`` (negative for a downward revision) to what an employer owes for a period and fund."""

    employer_code: str
    period: date
    fund: str
    due_date: date
    amount: int


@dataclass(frozen=True)
class RecordPayment:
    """A payment line: ``amount`` applied to a period and fund, with the payment's value date."""

    employer_code: str
    period: date
    fund: str
    value_date: date
    amount: int


def month(period: str) -> date:
    """``YYYY-MM`` (validated by the contract) as the month's first day."""
    return date(int(period[:4]), int(period[5:7]), 1)


def add_principal(law: Law, message: ContributionAssessed | ContributionAdjusted) -> list[AddPrincipal]:
    """One command per fund of the assessment (employer and employee parts together). Raises
    ``NoLawForPeriod`` when arrears' law tables give the period no due date."""
    period = month(message.period)
    try:
        due = due_date(law, period)
    except NoLawForPeriod as exc:
        raise NoLawForPeriod(f"payload.period: {exc}") from None
    per_fund: dict[str, int] = defaultdict(int)
    for line in message.lines:
        per_fund[line.fund] += line.amount
    return [AddPrincipal(message.employer_code, period, fund, due, amount) for fund, amount in per_fund.items()]


def record_payments(message: RemittanceAllocated) -> list[RecordPayment]:
    """One command per contribution line. Lines of fund ``interest`` pay interest, not principal: the ledger
    skips them (the ops side records them for the interest account, services/arrears/interest_paid.py)."""
    return [RecordPayment(message.employer_code, month(line.period), line.fund, message.value_date, line.amount)
            for line in message.lines if line.fund != "interest"]


def sum_principal(commands: Iterable[AddPrincipal]) -> list[tuple[str, date, str, date, int]]:
    """Rows for ``repository.add_principal``: one per debt (a batch touches each debt once)."""
    totals: dict[tuple[str, date, str, date], int] = defaultdict(int)
    for c in commands:
        totals[(c.employer_code, c.period, c.fund, c.due_date)] += c.amount
    return [(*key, amount) for key, amount in totals.items()]


def sum_payments(commands: Iterable[RecordPayment]) -> list[tuple[str, date, str, date, int]]:
    """Rows for ``repository.add_payments``: one per debt and value date."""
    totals: dict[tuple[str, date, str, date], int] = defaultdict(int)
    for c in commands:
        totals[(c.employer_code, c.period, c.fund, c.value_date)] += c.amount
    return [(*key, amount) for key, amount in totals.items()]
