"""Messages between the payment service, banks and Vietnam Post paying offices."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

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


# ---- bank side: what became of each payment (payments.events), and pain.002 documents in ----------------
StatusChannel = Literal["bank", "cash"]
Signal = Literal["shared_account", "deceased_beneficiary", "dormant_cash_collected", "account_changed_before_large"]
UnclaimedPeriods = Annotated[list[Period], Field(min_length=1, max_length=24)]


class BankStatusReportReceived(Message):
    """A bank's ISO 20022 pain.002 status report, the XML document itself (group or transaction level)."""

    event_type = "BankStatusReportReceived"
    bank_bin: BankBin
    document: text(950_000, forbidden=DOCUMENT_CONTROL, description="pain.002 XML (.03, .12 or .14)")


class PaymentSettled(Message):
    """The beneficiary's bank credited the transfer (pain.002 ACSC)."""

    event_type = "PaymentSettled"
    payment_id: Identifier
    beneficiary_code: InsuranceCode
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    channel: StatusChannel
    bank_bin: BankBin
    attempt: bounded_int(1, 99)


class PaymentRejected(Message):
    """A bank rejected the transfer; ``next_step`` says what follows (retry, cash, return to the fund)."""

    event_type = "PaymentRejected"
    payment_id: Identifier
    beneficiary_code: InsuranceCode
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    channel: StatusChannel
    bank_bin: BankBin
    attempt: bounded_int(1, 99)
    reason_code: ReasonCode | None = None
    next_step: Literal["retry", "reroute", "return"]


class PaymentReroutedToCash(Message):
    """The account could not take the transfer (AC01, AC04, AC06, BE01): the same payment is paid in cash."""

    event_type = "PaymentReroutedToCash"
    payment_id: Identifier
    beneficiary_code: InsuranceCode
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    channel: Literal["cash"]
    paying_office: Identifier
    reason_code: ReasonCode
    pay_from: Date
    pay_until: Date


class PaymentReturned(Message):
    """The payment could not be made (retries used up, no paying office): its money stays with the fund."""

    event_type = "PaymentReturned"
    payment_id: Identifier
    beneficiary_code: InsuranceCode
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    channel: StatusChannel
    reason_code: ReasonCode | None = None
    attempts: bounded_int(1, 99)


class CashPaymentCollected(Message):
    """The beneficiary took the cash at the paying office."""

    event_type = "CashPaymentCollected"
    payment_id: Identifier
    beneficiary_code: InsuranceCode
    award_id: Identifier
    period: Period
    amount: PositiveVnd
    channel: Literal["cash"]
    paying_office: Identifier
    paid_at: Timestamp | None = None


class PaymentsSuspendedForNonCollection(Message):
    """Cash left unclaimed 6 months in a row: the beneficiary's monthly payments are suspended (Law 58/2014
    Art. 64, carried into the 2024 law) until they come forward."""

    event_type = "PaymentsSuspendedForNonCollection"
    beneficiary_code: InsuranceCode
    award_id: Identifier
    from_period: Period
    unclaimed_periods: UnclaimedPeriods


class PaymentFlagged(Message):
    """A fraud signal for an operator to review (never the account number)."""

    event_type = "PaymentFlagged"
    signal: Signal
    beneficiary_code: InsuranceCode
    payment_id: Identifier | None = None
    award_id: Identifier | None = None
    period: Period | None = None
    amount: PositiveVnd | None = None
    detail: text(300)


EVENTS = EVENTS + (PaymentSettled, PaymentRejected, PaymentReroutedToCash, PaymentReturned, CashPaymentCollected,
                   PaymentsSuspendedForNonCollection, PaymentFlagged)
