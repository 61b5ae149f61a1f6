"""Messages of the benefit decision system (awards) and the participant registry (contacts)."""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from schemas.base import (AccountNumber, BankBin, CitizenId, Date, Identifier, InsuranceCode, Message, Name,
                          Part, Period, PositiveVnd, ascii_code, text)

Phone = ascii_code(r"\+84[0-9]{9,10}", 13, "E.164, +84...")
# Anything but '@', spaces (ASCII and Unicode, spelled out: ``\s`` differs between regex engines) and controls.
_EMAIL_PART = r"[^@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]+"
Email = text(254, pattern=rf"{_EMAIL_PART}@{_EMAIL_PART}\.{_EMAIL_PART}")
AppToken = text(4096)
HourMinute = ascii_code("(?:[01][0-9]|2[0-3]):[0-5][0-9]", 5, "Local time HH:MM, 24-hour clock")
Reason = text(200)

BenefitType = Literal["old_age_pension", "survivor_allowance", "accident_disease_allowance",
                      "unemployment_benefit", "sickness_allowance", "maternity_allowance", "funeral_allowance"]


class BankChannel(Part):
    kind: Literal["bank"]
    bank_bin: BankBin
    account_number: AccountNumber
    account_name: Name


class CashChannel(Part):
    kind: Literal["cash"]
    paying_office: Identifier
    home_delivery: bool = False


Channel = Annotated[Union[BankChannel, CashChannel], Field(discriminator="kind")]


class BenefitAwarded(Message):
    """A benefit decided upstream; payments pays it and never recomputes it."""

    event_type = "BenefitAwarded"
    award_id: Identifier
    beneficiary_code: InsuranceCode
    beneficiary_name: Name
    citizen_id: CitizenId
    benefit_type: BenefitType
    amount: Annotated[PositiveVnd, Field(description="Amount per period (monthly) or the one-off amount, VND")]
    recurrence: Literal["monthly", "one_off"]
    first_period: Period
    last_period: Period | None = None
    channel: Channel


class BenefitSuspended(Message):
    event_type = "BenefitSuspended"
    award_id: Identifier
    from_period: Period
    reason: Reason


class BenefitTerminated(Message):
    event_type = "BenefitTerminated"
    award_id: Identifier
    from_period: Period
    reason: Reason


class PaymentChannelChanged(Message):
    event_type = "PaymentChannelChanged"
    award_id: Identifier
    from_period: Period
    channel: Channel


class BeneficiaryDeceased(Message):
    event_type = "BeneficiaryDeceased"
    beneficiary_code: InsuranceCode
    date_of_death: Date


class BenefitResumed(Message):
    """A suspended award is paid again from ``from_period`` (a terminated award is never resumed)."""

    event_type = "BenefitResumed"
    award_id: Identifier
    from_period: Period
    reason: Reason


class QuietHours(Part):
    """Local times (Asia/Ho_Chi_Minh) between which no SMS is sent; ``start`` after ``end`` spans midnight
    (22:00-07:00). Equal times mean no quiet hours."""

    start: HourMinute
    end: HourMinute


class ContactDetailsChanged(Message):
    """How a participant wants to be told: channels, addresses and language."""

    event_type = "ContactDetailsChanged"
    participant_code: InsuranceCode
    phone: Phone | None = None
    email: Email | None = None
    app_token: AppToken | None = None
    language: Literal["vi", "en"] = "vi"
    channels: Annotated[list[Literal["email", "sms", "push"]], Field(max_length=3)] = Field(default_factory=list)
    # Optional (added after v1 was released, so v1 producers that omit it stay valid): no quiet hours when absent.
    sms_quiet_hours: QuietHours | None = None
