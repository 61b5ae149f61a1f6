"""Messages between the payment service, banks and Vietnam Post paying offices."""
from __future__ import annotations

from typing import Literal

from schemas.base import (DOCUMENT_CONTROL, AccountNumber, BankBin, CitizenId, Date, EndToEndId, Identifier,
                          InsuranceCode, Message, Name, Period, PositiveVnd, Timestamp, TotalVnd, ascii_code,
                          bounded_int, text)

# A pain.001 part stays under 1 MB, so it holds a few thousand transactions at most; 3.4 million monthly
# payments need about a thousand parts.
MAX_PARTS = 10_000
MAX_TRANSACTIONS = 10_000
Max35Text = text(35, description="ISO 20022 Max35Text")
ReasonCode = ascii_code("[A-Z0-9]{4}", 4, "ISO 20022 status reason code, e.g. AC01")


class PaymentOrderIssued(Message):
    """One credit transfer to a beneficiary's bank account (the JSON form of a pain.001 transaction)."""

    event_type = "PaymentOrderIssued"
    payment_id: Identifier
    end_to_end_id: EndToEndId
    award_id: Identifier
    period: Period
    attempt: bounded_int(1, 99, "1 for the first transfer, then one more per retry")
    amount: PositiveVnd
    creditor_name: Name
    bank_bin: BankBin
    account_number: AccountNumber
    requested_execution_date: Date


class PaymentBatchIssued(Message):
    """A pain.001 document for one bank (one part of a batch split to stay under 1 MB)."""

    event_type = "PaymentBatchIssued"
    message_id: Max35Text
    bank_bin: BankBin
    part: bounded_int(1, MAX_PARTS)
    parts: bounded_int(1, MAX_PARTS)
    number_of_transactions: bounded_int(1, MAX_TRANSACTIONS)
    control_sum: TotalVnd
    document: text(950_000, forbidden=DOCUMENT_CONTROL, description="pain.001 XML")


class BankPaymentStatusReported(Message):
    """A bank's pain.002 status for one payment."""

    event_type = "BankPaymentStatusReported"
    bank_bin: BankBin
    original_message_id: Max35Text
    end_to_end_id: EndToEndId
    status: Literal["ACCP", "ACTC", "ACSC", "PDNG", "RJCT"]
    reason_code: ReasonCode | None = None
    reported_at: Timestamp


class CashPaymentOrdered(Message):
    """An order to a Vietnam Post paying office to pay a beneficiary in cash."""

    event_type = "CashPaymentOrdered"
    payment_id: Identifier
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    beneficiary_code: InsuranceCode
    beneficiary_name: Name
    citizen_id: CitizenId
    paying_office: Identifier
    home_delivery: bool
    pay_from: Date
    pay_until: Date


class CashPaymentReported(Message):
    """What a paying office reports back: paid (with when) or unclaimed at the end of the window."""

    event_type = "CashPaymentReported"
    payment_id: Identifier
    paying_office: Identifier
    outcome: Literal["paid", "unclaimed"]
    paid_at: Timestamp | None = None


# ---- payments.events (internal; keyed by beneficiary social insurance code, run events by period) ----
PrincipalName = text(100, description="The operator (token principal) who acted")
RunCount = bounded_int(0, 100_000_000, "Number of payments")


class PaymentRunPrepared(Message):
    """A payment run prepared for a period: nothing is sent until a second operator approves it."""

    event_type = "PaymentRunPrepared"
    period: Period
    payments: RunCount
    total_amount: TotalVnd
    prepared_by: PrincipalName


class PaymentRunApproved(Message):
    """A prepared run approved by an operator other than its preparers; its orders are being sent."""

    event_type = "PaymentRunApproved"
    period: Period
    payments: RunCount
    total_amount: TotalVnd
    approved_by: PrincipalName
    requested_execution_date: Date


class PaymentSent(Message):
    """One payment's order has gone out (bank transfer or cash at a paying office); never the account number."""

    event_type = "PaymentSent"
    payment_id: Identifier
    beneficiary_code: InsuranceCode
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    channel: Literal["bank", "cash"]
    bank_bin: BankBin | None = None
    paying_office: Identifier | None = None
    attempt: bounded_int(1, 99, "1 for the first order, then one more per retry")


# What payments publishes on payments.events (the bank side appends its events here).
EVENTS: tuple[type[Message], ...] = (PaymentRunPrepared, PaymentRunApproved, PaymentSent)
