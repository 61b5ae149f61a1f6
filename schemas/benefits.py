"""Messages of the benefit decision system (awards) and the participant registry (contacts)."""
from __future__ import annotations

from datetime import date
from typing import Annotated, Literal, Union

from pydantic import Field, StringConstraints

from schemas.base import (AccountNumber, BankBin, CitizenId, Identifier, InsuranceCode, Message, Name, Part,
                          Period)

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
    amount: Annotated[int, Field(gt=0, description="Amount per period (monthly) or the one-off amount, VND")]
    recurrence: Literal["monthly", "one_off"]
    first_period: Period
    last_period: Period | None = None
    channel: Channel


class BenefitSuspended(Message):
    event_type = "BenefitSuspended"
    award_id: Identifier
    from_period: Period
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class BenefitTerminated(Message):
    event_type = "BenefitTerminated"
    award_id: Identifier
    from_period: Period
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class PaymentChannelChanged(Message):
    event_type = "PaymentChannelChanged"
    award_id: Identifier
    from_period: Period
    channel: Channel


class BeneficiaryDeceased(Message):
    event_type = "BeneficiaryDeceased"
    beneficiary_code: InsuranceCode
    date_of_death: date


Phone = Annotated[str, StringConstraints(pattern=r"^\+84\d{9,10}$"), Field(description="E.164, +84...")]


class ContactDetailsChanged(Message):
    """How a participant wants to be told: channels, addresses and language."""

    event_type = "ContactDetailsChanged"
    participant_code: InsuranceCode
    phone: Phone | None = None
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)] | None = None
    app_token: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    language: Literal["vi", "en"] = "vi"
    channels: list[Literal["email", "sms", "push"]] = Field(default_factory=list)
