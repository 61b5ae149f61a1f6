"""How banks and paying offices answer the payment service: seeded, so the same order gets the same answer.

A bank settles most credit transfers. It rejects a transfer to a problem account (closed, wrong number, name
mismatch, blocked) every time, whatever the attempt, because the problem is the account's; other rejections
are passing (a retry may settle). A paying office pays most cash orders; a few beneficiaries never come
(month after month, so the six-month rule can bite), a few miss one month.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

from schemas.payments import BankPaymentStatusReported, CashPaymentReported

HANOI = timezone(timedelta(hours=7))
ACCOUNT_PROBLEMS = ("AC04", "AC01", "BE01", "AC06")  # closed, incorrect number, name mismatch, blocked
PASSING_PROBLEMS = ("AM05", "MS03")                  # duplication suspected, reason not specified


@dataclass(frozen=True)
class Rates:
    account_problem: float = 0.02   # of accounts a bank cannot credit
    passing_problem: float = 0.01   # of transfers rejected once for another reason
    never_collects: float = 0.01    # of cash beneficiaries who never come
    misses_a_month: float = 0.03    # of cash payments left unclaimed once


def _draw(*parts: object) -> float:
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def bank_answer(order: dict, seed: int, rates: Rates, when: datetime) -> BankPaymentStatusReported:
    """The pain.002 status a bank reports for one ``PaymentOrderIssued`` payload."""
    status, reason = "ACSC", None
    account = _draw(seed, "account", order["bank_bin"], order["account_number"])
    if account < rates.account_problem:
        status, reason = "RJCT", ACCOUNT_PROBLEMS[int(account / rates.account_problem * len(ACCOUNT_PROBLEMS))]
    elif _draw(seed, "transfer", order["end_to_end_id"]) < rates.passing_problem:
        status, reason = "RJCT", PASSING_PROBLEMS[int(_draw(seed, "why", order["end_to_end_id"]) * 2)]
    return BankPaymentStatusReported(bank_bin=order["bank_bin"], original_message_id=f"O{order['end_to_end_id']}"[:35],
                                     end_to_end_id=order["end_to_end_id"], status=status, reason_code=reason,
                                     reported_at=when)


def cash_answer(order: dict, seed: int, rates: Rates) -> CashPaymentReported:
    """What the paying office reports for one ``CashPaymentOrdered`` payload at the end of its window."""
    if _draw(seed, "absent", order["beneficiary_code"]) < rates.never_collects or \
            _draw(seed, "missed", order["payment_id"]) < rates.misses_a_month:
        return CashPaymentReported(payment_id=order["payment_id"], paying_office=order["paying_office"],
                                   outcome="unclaimed")
    start = datetime.fromisoformat(order["pay_from"]).date()
    days = (datetime.fromisoformat(order["pay_until"]).date() - start).days
    day = start + timedelta(days=int(_draw(seed, "day", order["payment_id"]) * (days + 1)))
    return CashPaymentReported(payment_id=order["payment_id"], paying_office=order["paying_office"], outcome="paid",
                               paid_at=datetime.combine(day, time(9, 30), HANOI))
