"""Commands of collection, translated from wire messages at the edge."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from schemas.collection import RemittanceReceived, SalaryDeclared
from services.collection.domain.model import Declaration, Period


@dataclass(frozen=True)
class DeclareSalary:
    declaration: Declaration
    employer_tax_code: str
    event_id: UUID
    correlation_id: UUID


@dataclass(frozen=True)
class RecordRemittance:
    payment_id: str
    employer_code: str
    amount: int
    value_date: date
    bank_reference: str
    event_id: UUID
    correlation_id: UUID


def declare_salary(message: SalaryDeclared, event_id: UUID, correlation_id: UUID) -> DeclareSalary:
    return DeclareSalary(
        Declaration(message.employer_code, message.region, message.reduced_accident_rate,
                    Period.parse(message.period), message.worker_code, message.worker_name, message.citizen_id,
                    message.contribution_salary, tuple(dict.fromkeys(message.funds)), message.revision),
        message.employer_tax_code, event_id, correlation_id)


def record_remittance(message: RemittanceReceived, event_id: UUID, correlation_id: UUID) -> RecordRemittance:
    return RecordRemittance(message.payment_id, message.employer_code, message.amount, message.value_date,
                            message.bank_reference, event_id, correlation_id)
