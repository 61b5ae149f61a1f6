"""Commands of collection, translated from wire messages at the edge."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from schemas.collection import RemittanceReceived, SalaryDeclared
from services.collection.domain.errors import InvalidRemittance
from services.collection.domain.model import Declaration, Period

PAYMENT_ID_MAX = 64  # the contracts' Identifier: the recorded id travels in RemittanceAllocated


@dataclass(frozen=True, slots=True)  # slots: one of these per declaration, built faster
class DeclareSalary:
    declaration: Declaration
    employer_tax_code: str
    event_id: UUID
    correlation_id: UUID


@dataclass(frozen=True)
class RecordRemittance:
    """Record a payment and allocate it; ``employer_code`` None: unidentified, hold it in suspense."""

    payment_id: str  # as recorded: unique per bank (see ``recorded_payment_id``)
    employer_code: str | None
    amount: int
    value_date: date
    bank_reference: str
    event_id: UUID | None
    correlation_id: UUID | None
    bank_bin: str | None = None
    # True when the code was read from a bank's free text (camt.054): a code collection has never seen is
    # then more likely a misreading than a new employer, so the money is held in suspense, not credited.
    must_be_known: bool = False
    unidentified_reason: str | None = None  # why the employer is unknown (a code), when it is
    detail: str | None = None               # the same in words, no personal data


@dataclass(frozen=True)
class AssignReceipt:
    """An operator's decision: this unidentified receipt was paid by that employer, for this reason."""

    receipt_id: int
    employer_code: str
    reason: str


def declare_salary(message: SalaryDeclared, event_id: UUID, correlation_id: UUID) -> DeclareSalary:
    return DeclareSalary(
        Declaration(message.employer_code, message.region, message.reduced_accident_rate,
                    Period.parse(message.period), message.worker_code, message.worker_name, message.citizen_id,
                    message.contribution_salary, tuple(dict.fromkeys(message.funds)), message.revision),
        message.employer_tax_code, event_id, correlation_id)


def recorded_payment_id(payment_id: str, bank_bin: str | None) -> str:
    """Payment ids are unique per bank: with its bank named, a payment is recorded as ``<BIN>-<id>``, the way
    camt.054 credits are (``<BIN>-<AcctSvcrRef>``), so the same transfer reported both ways is one payment.
    Without a bank, the id is taken as given (the sender must keep it unique across banks)."""
    if bank_bin is None:
        return payment_id
    recorded = f"{bank_bin}-{payment_id}"
    if len(recorded) > PAYMENT_ID_MAX:
        raise InvalidRemittance(f"payment_id is too long: with bank_bin it is recorded as '<bank_bin>-<payment_id>', "
                                f"at most {PAYMENT_ID_MAX} characters, so at most {PAYMENT_ID_MAX - 7} are left for it")
    return recorded


def record_remittance(message: RemittanceReceived, event_id: UUID, correlation_id: UUID) -> RecordRemittance:
    return RecordRemittance(recorded_payment_id(message.payment_id, message.bank_bin), message.employer_code,
                            message.amount, message.value_date, message.bank_reference, event_id, correlation_id,
                            bank_bin=message.bank_bin)
