"""Allocating an employer's money to open obligations: oldest period first, then the fund order in force.

What is left over stays as the employer's credit, in lots that remember the payment and value date they
came from, so that a later allocation of credit reports the date the money actually arrived. Money that a
downward revision gives back returns to the lots of the payments that paid it (``release``).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Iterable

from services.collection.domain.errors import ReleaseNotCovered
from services.collection.domain.model import Period


@dataclass(frozen=True)
class Obligation:
    period: Period
    fund: str
    outstanding: int  # assessed minus paid, VND, > 0


@dataclass(frozen=True)
class CreditLot:
    payment_id: str
    value_date: date
    remaining: int


@dataclass(frozen=True)
class PaidBy:
    """What one payment has paid on one obligation, net of earlier releases, and when it last paid there."""

    payment_id: str
    value_date: date
    amount: int
    latest: int  # order of its newest allocation to the obligation (larger is newer)


Allocation = tuple[Period, str, int]  # (period, fund, amount)


def allocate(obligations: Iterable[Obligation], amount: int, order: tuple[str, ...]) -> tuple[list[Allocation], int]:
    """Apply ``amount`` to ``obligations``; returns the lines and what is left (>= 0)."""
    rank = {fund: i for i, fund in enumerate(order)}
    lines: list[Allocation] = []
    left = amount
    for ob in sorted(obligations, key=lambda o: (o.period, rank.get(o.fund, len(rank)))):
        if left == 0:
            break
        if ob.outstanding <= 0:
            continue
        take = min(left, ob.outstanding)
        lines.append((ob.period, ob.fund, take))
        left -= take
    return lines, left


def apply_credit(lots: list[CreditLot], obligations: list[Obligation], order: tuple[str, ...]
                 ) -> tuple[list[tuple[CreditLot, list[Allocation]]], list[CreditLot]]:
    """Use credit lots, oldest first, on ``obligations``; returns per-lot lines and the lots left."""
    open_amounts = {(o.period, o.fund): o.outstanding for o in obligations}
    used: list[tuple[CreditLot, list[Allocation]]] = []
    remaining_lots: list[CreditLot] = []
    for lot in sorted(lots, key=lambda l: (l.value_date, l.payment_id)):
        current = [Obligation(p, f, a) for (p, f), a in open_amounts.items() if a > 0]
        lines, left = allocate(current, lot.remaining, order) if current else ([], lot.remaining)
        for period, fund, amount in lines:
            open_amounts[(period, fund)] -= amount
        if lines:
            used.append((lot, lines))
        if left:
            remaining_lots.append(replace(lot, remaining=left))
    return used, remaining_lots


def deduct(obligations: Iterable[Obligation], lines: Iterable[Allocation]) -> list[Obligation]:
    """``obligations`` less what ``lines`` paid on them; those paid in full are left out."""
    paid: dict[tuple[Period, str], int] = {}
    for period, fund, amount in lines:
        paid[(period, fund)] = paid.get((period, fund), 0) + amount
    left = [replace(o, outstanding=o.outstanding - paid.get((o.period, o.fund), 0)) for o in obligations]
    return [o for o in left if o.outstanding > 0]


def release(paid_by: Iterable[PaidBy], amount: int, what: str = "the obligation") -> list[CreditLot]:
    """Give back ``amount`` paid on one obligation to the payments that paid it, newest allocation first.

    Newest first: the money that arrived earliest stays where it was, so the obligation keeps the earliest
    payment dates it had (interest is computed from them) and what returns to credit is the latest money.
    Each returned lot keeps its payment's id and value date. ``what`` names the obligation in the refusal
    (employer, month and fund: no personal data).
    """
    lots, left = [], amount
    for paid in sorted(paid_by, key=lambda p: p.latest, reverse=True):
        if left == 0:
            break
        take = min(left, paid.amount)
        if take > 0:
            lots.append(CreditLot(paid.payment_id, paid.value_date, take))
            left -= take
    if left:
        raise ReleaseNotCovered(f"{ReleaseNotCovered.code}: a downward revision of {what} releases {amount} VND, "
                                f"but the payments recorded on it cover {amount - left} VND of that; nothing was "
                                "changed for this declaration (the payment history needs an operator's check)")
    return lots


def add_lot(lots: Iterable[CreditLot], lot: CreditLot) -> list[CreditLot]:
    """``lots`` with ``lot`` added: one lot per payment, so money of a payment already in credit joins it."""
    merged, found = [], False
    for existing in lots:
        if existing.payment_id == lot.payment_id:
            existing, found = replace(existing, remaining=existing.remaining + lot.remaining), True
        merged.append(existing)
    return merged if found else merged + [lot]


class Ledger:
    """What locked employers owe (open obligations) and hold (credit lots), read once for a batch of payments.

    Each payment is allocated here, in memory and in order: the employer's credit first (oldest lot first),
    then the payment, the rest to credit. The caller writes ``allocations`` (in this order) and the lots of
    the ``changed`` employers at the end; their locks keep anyone else from moving their money meanwhile.
    """

    def __init__(self, open_of: dict[str, list[Obligation]], lots_of: dict[str, list[CreditLot]]):
        self.open_of, self.lots_of = open_of, lots_of
        self.allocations: list[tuple[str, str, date, list[Allocation]]] = []
        self.changed: set[str] = set()

    def pay(self, employer: str, payment_id: str, amount: int, value_date: date, credit_order: tuple[str, ...],
            payment_order: tuple[str, ...]) -> tuple[list[tuple[CreditLot, list[Allocation]]], int, list[Allocation],
                                                     int]:
        """Allocate a new payment; returns the credit lots used (with their lines), the credit balance after
        them, the payment's own lines, and the credit balance after the payment."""
        obligations, lots = self.open_of.get(employer, []), self.lots_of.get(employer, [])
        used: list[tuple[CreditLot, list[Allocation]]] = []
        if lots:
            used, lots = apply_credit(lots, obligations, credit_order)
            obligations = deduct(obligations, [line for _, lines in used for line in lines])
            self.allocations += [(employer, lot.payment_id, lot.value_date, lines) for lot, lines in used]
        after_credit = sum(lot.remaining for lot in lots)
        lines, left = allocate(obligations, amount, payment_order)
        self.allocations.append((employer, payment_id, value_date, lines))
        if left:
            lots = add_lot(lots, CreditLot(payment_id, value_date, left))
        if used or left:
            self.changed.add(employer)
        self.open_of[employer], self.lots_of[employer] = deduct(obligations, lines), lots
        return used, after_credit, lines, after_credit + left

