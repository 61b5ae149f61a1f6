"""Messages between the payment service, banks and Vietnam Post paying offices."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field

from schemas.base import (AccountNumber, BankBin, CitizenId, EndToEndId, Identifier, InsuranceCode, Message,
                          Name, Period, Vnd)


class PaymentOrderIssued(Message):
    """One credit transfer to a beneficiary's bank account (the JSON form of a pain.001 transaction)."""

    event_type = "PaymentOrderIssued"
    payment_id: Identifier
    end_to_end_id: EndToEndId
    award_id: Identifier
    period: Period
    attempt: Annotated[int, Field(ge=1)]
    amount: Annotated[int, Field(gt=0)]
    creditor_name: Name
    bank_bin: BankBin
    account_number: AccountNumber
    requested_execution_date: date


class PaymentBatchIssued(Message):
    """A pain.001 document for one bank (one part of a batch split to stay under 1 MB)."""

    event_type = "PaymentBatchIssued"
    message_id: Annotated[str, Field(min_length=1, max_length=35)]
    bank_bin: BankBin
    part: Annotated[int, Field(ge=1)]
    parts: Annotated[int, Field(ge=1)]
    number_of_transactions: Annotated[int, Field(ge=1)]
    control_sum: Vnd
    document: Annotated[str, Field(min_length=1, max_length=950_000, description="pain.001 XML")]


class BankPaymentStatusReported(Message):
    """A bank's pain.002 status for one payment."""

    event_type = "BankPaymentStatusReported"
    bank_bin: BankBin
    original_message_id: Annotated[str, Field(min_length=1, max_length=35)]
    end_to_end_id: EndToEndId
    status: Literal["ACCP", "ACTC", "ACSC", "PDNG", "RJCT"]
    reason_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{4}$")] | None = None
    reported_at: AwareDatetime


class CashPaymentOrdered(Message):
    """An order to a Vietnam Post paying office to pay a beneficiary in cash."""

    event_type = "CashPaymentOrdered"
    payment_id: Identifier
    award_id: Identifier
    period: Period
    amount: Annotated[int, Field(gt=0)]
    beneficiary_code: InsuranceCode
    beneficiary_name: Name
    citizen_id: CitizenId
    paying_office: Identifier
    home_delivery: bool
    pay_from: date
    pay_until: date


class CashPaymentReported(Message):
    """What a paying office reports back: paid (with when) or unclaimed at the end of the window."""

    event_type = "CashPaymentReported"
    payment_id: Identifier
    paying_office: Identifier
    outcome: Literal["paid", "unclaimed"]
    paid_at: AwareDatetime | None = None
