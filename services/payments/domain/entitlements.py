"""Entitlements: what each award pays, to whom, through which channel, and from which month in which status.

Pure rules (no I/O). Each event of ``benefits.awards`` is first checked against the award's current state
(``check_*``: raise an ``AwardError`` the sender can act on), then applied (``apply_*``: a new value).

Status is effective-dated by month: ``status`` applies from ``status_from``, ``prior_status`` before it.
Runs are prepared for the current month, so the latest change and what was in force before it are enough.

What may happen to an award::

    active <-> suspended          (BenefitSuspended / BenefitResumed, from a month)
    active | suspended -> terminated   (BenefitTerminated; never resumed)
    any -> deceased               (BeneficiaryDeceased, from the month of death: nothing is paid that month on)

For a deceased beneficiary only events that pay nothing are taken (a suspension or termination is recorded);
an award, a resumption or a new channel would pay someone who has died and is refused.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from services.payments.domain.errors import BeneficiaryIsDeceased, ImpossibleTransition, InvalidAward, UnknownAward
from services.payments.domain.model import month_of, previous_period

Status = Literal["active", "suspended", "terminated", "deceased"]
Outcome = Literal["awarded", "amended", "unchanged", "suspended", "resumed", "terminated", "channel_changed",
                  "deceased", "recorded"]


@dataclass(frozen=True)
class Channel:
    kind: Literal["bank", "cash"]
    bank_bin: str | None = None
    account_number: str | None = None
    account_name: str | None = None
    paying_office: str | None = None
    home_delivery: bool = False


@dataclass(frozen=True)
class Entitlement:
    award_id: str
    beneficiary_code: str
    beneficiary_name: str
    citizen_id: str
    benefit_type: str
    amount: int
    recurrence: Literal["monthly", "one_off"]
    first_period: date
    last_period: date | None
    channel: Channel
    channel_from: date
    status: Status = "active"
    status_from: date | None = None  # None: since first_period
    prior_status: Status = "active"

    @property
    def effective_status_from(self) -> date:
        return self.status_from or self.first_period


def status_in(entitlement: Entitlement, period: date) -> Status:
    """The award's status in the month ``period`` (first day)."""
    return entitlement.status if period >= entitlement.effective_status_from else entitlement.prior_status


def is_payable(entitlement: Entitlement, period: date) -> bool:
    """Would a run for ``period`` pay this award? (The SQL of the run says the same; tests compare them.)"""
    if entitlement.first_period > period or status_in(entitlement, period) != "active":
        return False
    return entitlement.recurrence == "one_off" or entitlement.last_period is None or period <= entitlement.last_period


# ---- checks ------------------------------------------------------------------------------------------
def check_award(current: Entitlement | None, deceased_on: date | None, award: Entitlement) -> Outcome:
    """A BenefitAwarded: new, an amendment of the same award (amount, months, channel), or a repeat."""
    if award.last_period is not None and award.last_period < award.first_period:
        raise InvalidAward("last_period is before first_period")
    if deceased_on is not None:
        raise BeneficiaryIsDeceased("beneficiary_code: the beneficiary is recorded as deceased; an award would pay "
                                    "them (send the award to the heirs' own beneficiary code)")
    if current is None:
        return "awarded"
    if current.beneficiary_code != award.beneficiary_code:
        raise InvalidAward("award_id: this award already belongs to another beneficiary_code")
    if current.status == "terminated":
        raise ImpossibleTransition("award_id: the award is terminated; a terminated award is never amended or "
                                   "resumed (a new decision needs a new award_id)")
    same = (current.amount, current.recurrence, current.first_period, current.last_period, current.channel,
            current.benefit_type, current.beneficiary_name, current.citizen_id) == (
        award.amount, award.recurrence, award.first_period, award.last_period, award.channel,
        award.benefit_type, award.beneficiary_name, award.citizen_id)
    return "unchanged" if same else "amended"


def check_suspension(current: Entitlement | None) -> Outcome:
    _known(current, "BenefitSuspended")
    return "recorded" if current.status in ("terminated", "deceased") else "suspended"


def check_resumption(current: Entitlement | None, from_period: date) -> Outcome:
    _known(current, "BenefitResumed")
    if current.status == "deceased":
        raise BeneficiaryIsDeceased("award_id: the beneficiary is recorded as deceased; a resumption would pay them")
    if current.status == "terminated":
        raise ImpossibleTransition("award_id: the award is terminated; a terminated award is never resumed")
    if current.status != "suspended":
        raise ImpossibleTransition("award_id: the award is not suspended, so there is nothing to resume")
    return "resumed"


def check_termination(current: Entitlement | None) -> Outcome:
    _known(current, "BenefitTerminated")
    return "recorded" if current.status in ("terminated", "deceased") else "terminated"


def check_channel_change(current: Entitlement | None) -> Outcome:
    _known(current, "PaymentChannelChanged")
    if current.status == "deceased":
        raise BeneficiaryIsDeceased("award_id: the beneficiary is recorded as deceased; a new channel would pay them")
    return "channel_changed"


def _known(current: Entitlement | None, event: str) -> None:
    if current is None:
        raise UnknownAward(f"award_id: no award with this id was received before this {event} (an award must come "
                           "first, on the same beneficiary key)")


# ---- applying ----------------------------------------------------------------------------------------
def apply_award(current: Entitlement | None, award: Entitlement) -> Entitlement:
    """The award as decided; an amendment keeps the award's status history."""
    if current is None:
        return award
    return replace(award, status=current.status, status_from=current.status_from, prior_status=current.prior_status,
                   channel_from=current.channel_from if current.channel == award.channel else award.first_period)


def apply_status(current: Entitlement, status: Status, from_period: date) -> Entitlement:
    """``status`` from ``from_period`` on; before it, whatever was in force the month before."""
    if current.status in ("terminated", "deceased") and status != "deceased":
        return current  # recorded only: an ended award stays ended
    from_period = max(from_period, current.first_period) if status != "deceased" else from_period
    prior = status_in(current, previous_period(from_period))
    return replace(current, status=status, status_from=from_period, prior_status=prior)


def apply_channel(current: Entitlement, channel: Channel, from_period: date) -> Entitlement:
    return replace(current, channel=channel, channel_from=from_period)


def apply_death(current: Entitlement, date_of_death: date) -> Entitlement:
    """Nothing is paid for the month of death onwards (payments stop on death)."""
    if current.status == "deceased":
        return current
    return apply_status(current, "deceased", month_of(date_of_death))
