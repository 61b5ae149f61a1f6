"""Allocating an employer's money to open obligations: oldest period first, then the fund order in force.

What is left over stays as the employer's credit, in lots that remember the payment and value date they
came from, so that a later allocation of credit reports the date the money actually arrived.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Iterable

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
