"""Commands of payments, translated from wire messages at the edge (imperative names)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from schemas import benefits as wire
from services.payments.domain.entitlements import Channel, Entitlement
from services.payments.domain.model import parse_period


@dataclass(frozen=True)
class RecordAward:
    entitlement: Entitlement


@dataclass(frozen=True)
class ChangeStatus:
    award_id: str
    status: str  # suspended, active (resumed), terminated
    from_period: date


@dataclass(frozen=True)
class ChangeChannel:
    award_id: str
    channel: Channel
    from_period: date


@dataclass(frozen=True)
class RecordDeath:
    beneficiary_code: str
    date_of_death: date


AwardCommand = RecordAward | ChangeStatus | ChangeChannel | RecordDeath


@dataclass(frozen=True)
class Translated:
    """One award event as a command, with what identifies it."""

    command: AwardCommand
    kind: str
    event_id: UUID


def channel_of(channel: wire.BankChannel | wire.CashChannel) -> Channel:
    if channel.kind == "bank":
        return Channel("bank", channel.bank_bin, channel.account_number, channel.account_name)
    return Channel("cash", paying_office=channel.paying_office, home_delivery=channel.home_delivery)


def award_command(message, event_id: UUID) -> Translated:
    """The command for one benefits.awards message (its model is already validated)."""
    if isinstance(message, wire.BenefitAwarded):
        first = parse_period(message.first_period)
        return Translated(RecordAward(Entitlement(
            message.award_id, message.beneficiary_code, message.beneficiary_name, message.citizen_id,
            message.benefit_type, message.amount, message.recurrence, first,
            parse_period(message.last_period) if message.last_period else None, channel_of(message.channel),
            first)), "awarded", event_id)
    if isinstance(message, wire.BenefitSuspended):
        return Translated(ChangeStatus(message.award_id, "suspended", parse_period(message.from_period)),
                          "suspended", event_id)
    if isinstance(message, wire.BenefitResumed):
        return Translated(ChangeStatus(message.award_id, "active", parse_period(message.from_period)),
                          "resumed", event_id)
    if isinstance(message, wire.BenefitTerminated):
        return Translated(ChangeStatus(message.award_id, "terminated", parse_period(message.from_period)),
                          "terminated", event_id)
    if isinstance(message, wire.PaymentChannelChanged):
        return Translated(ChangeChannel(message.award_id, channel_of(message.channel),
                                        parse_period(message.from_period)), "channel_changed", event_id)
    if isinstance(message, wire.BeneficiaryDeceased):
        return Translated(RecordDeath(message.beneficiary_code, message.date_of_death), "deceased", event_id)
    raise TypeError(f"no command for {type(message).__name__}")
