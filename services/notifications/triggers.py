"""Triggers (pure): which decoded events tell a participant something, and with what inputs.

``effects_of(batch)`` maps a batch of decoded messages to what the handler writes: the messages to render
(``Trigger``), the awards to remember (BenefitSuspended and the payment events name the award, not always the
beneficiary or the benefit type), and the contribution digest parts. Events that tell nobody anything
(payment runs, overdue employers, interest) map to nothing. No identifier leaves here unmasked: a citizen id
or an account number becomes its last 4 digits behind a mask.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Sequence
from uuid import UUID

from ansinh.runtime.decoding import Incoming
from services.notifications.domain.contacts import Contact, usable_channels
from services.notifications.domain.digest import Digest, DigestPart, digest_event_id, party_sums
from services.notifications.domain.masking import MASK, last_digits, mask_digits
from services.notifications.render import Renderer

# Message types (template names), one per thing a participant is told.
CONTRIBUTIONS_RECORDED = "contributions_recorded"
PAYMENT_TYPES = {"PaymentSent": "payment_sent", "PaymentSettled": "payment_settled",
                 "PaymentRejected": "payment_rejected", "PaymentReroutedToCash": "payment_rerouted_to_cash",
                 "PaymentReturned": "payment_returned", "PaymentsSuspendedForNonCollection": "payments_suspended"}
AWARD_TYPES = {"BenefitSuspended": "benefit_suspended", "BenefitResumed": "benefit_resumed",
               "BenefitTerminated": "benefit_ended"}
MESSAGE_TYPES = (CONTRIBUTIONS_RECORDED, "contributions_unpaid", "benefit_awarded", *AWARD_TYPES.values(),
                 *PAYMENT_TYPES.values())
_INSURANCE_CODE = re.compile(r"[0-9]{10}")


@dataclass(frozen=True)
class Trigger:
    """One thing to tell one participant (on each of their channels), caused by one event."""

    message_type: str
    event_id: UUID
    triggered_at: datetime
    participant_code: str | None  # None: the award's beneficiary (``award_id``)
    inputs: dict[str, Any]
    award_id: str | None = None   # benefit type and masked account are filled in from the award when known


@dataclass(frozen=True)
class AwardFacts:
    event_id: UUID
    award_id: str
    beneficiary_code: str | None  # None: a channel change, which names only the award
    benefit_type: str | None
    account_last4: str | None     # None: paid in cash


@dataclass(frozen=True)
class Assessed:
    """A digest part from an assessment (``delta``: from an adjustment, amounts are differences)."""

    event_id: UUID
    part: DigestPart
    occurred_at: datetime
    delta: bool = False


@dataclass
class Effects:
    triggers: list[Trigger] = field(default_factory=list)
    awards: list[AwardFacts] = field(default_factory=list)
    assessed: list[Assessed] = field(default_factory=list)

    def __add__(self, other: "Effects") -> "Effects":
        return Effects(self.triggers + other.triggers, self.awards + other.awards, self.assessed + other.assessed)

    def only(self, event_ids: set[UUID]) -> "Effects":
        """What the events in ``event_ids`` (those claimed in the inbox) cause."""
        return Effects([t for t in self.triggers if t.event_id in event_ids],
                       [a for a in self.awards if a.event_id in event_ids],
                       [a for a in self.assessed if a.event_id in event_ids])


def effects_of(batch: Sequence[Incoming]) -> Effects:
    out, seen = Effects(), set()
    for item in batch:
        mapper = _MAPPERS.get(item.envelope.type)
        if mapper is not None and item.envelope.event_id not in seen:  # a redelivery inside one batch: once
            seen.add(item.envelope.event_id)
            mapper(item, out)
    return out


# ---- one mapper per event type -------------------------------------------------------------------------
def _assessed(item: Incoming, out: Effects) -> None:
    m = item.message
    employee, employer = party_sums((line.party, line.amount) for line in m.lines)
    part = DigestPart(m.worker_code, m.period, m.employer_code, m.revision, m.declared_salary, employee, employer)
    out.assessed.append(Assessed(item.envelope.event_id, part, item.envelope.occurred_at))


def _adjusted(item: Incoming, out: Effects) -> None:
    m = item.message
    employee, employer = party_sums((line.party, line.amount) for line in m.lines)
    part = DigestPart(m.worker_code, m.period, m.employer_code, m.revision, m.declared_salary, employee, employer)
    out.assessed.append(Assessed(item.envelope.event_id, part, item.envelope.occurred_at, delta=True))


def _unpaid(item: Incoming, out: Effects) -> None:
    m = item.message
    out.triggers.append(_trigger(item, "contributions_unpaid", m.worker_code,
                                 employer_code=m.employer_code, periods=list(m.periods), as_of=m.as_of))


def _awarded(item: Incoming, out: Effects) -> None:
    m = item.message
    bank = m.channel.kind == "bank"
    account = m.channel.account_number if bank else None
    out.awards.append(AwardFacts(item.envelope.event_id, m.award_id, m.beneficiary_code, m.benefit_type,
                                 last_digits(account)))
    out.triggers.append(_trigger(
        item, "benefit_awarded", m.beneficiary_code, benefit_type=m.benefit_type, amount=m.amount,
        recurrence=m.recurrence, first_period=m.first_period, last_period=m.last_period, channel=m.channel.kind,
        account=mask_digits(account), paying_office=None if bank else m.channel.paying_office,
        citizen_id=mask_digits(m.citizen_id)))


def _channel_changed(item: Incoming, out: Effects) -> None:
    m = item.message
    account = m.channel.account_number if m.channel.kind == "bank" else None
    out.awards.append(AwardFacts(item.envelope.event_id, m.award_id, None, None, last_digits(account)))


def _award_step(item: Incoming, out: Effects) -> None:
    m = item.message
    out.triggers.append(_trigger(item, AWARD_TYPES[item.envelope.type], _key_code(item), award_id=m.award_id,
                                 from_period=m.from_period, reason=m.reason))


def _payment(item: Incoming, out: Effects) -> None:
    m = item.message
    if item.envelope.type == "PaymentRejected" and m.next_step != "retry":
        return  # PaymentReroutedToCash or PaymentReturned follows and tells what happens to the money
    out.triggers.append(_trigger(
        item, PAYMENT_TYPES[item.envelope.type], m.beneficiary_code, award_id=m.award_id,
        amount=getattr(m, "amount", None), period=getattr(m, "period", None) or m.from_period,
        reason_code=getattr(m, "reason_code", None), paying_office=getattr(m, "paying_office", None),
        channel=getattr(m, "channel", None), pay_until=getattr(m, "pay_until", None),
        unclaimed=len(getattr(m, "unclaimed_periods", ()))))


def _trigger(item: Incoming, message_type: str, participant: str | None, award_id: str | None = None,
             **inputs: Any) -> Trigger:
    inputs.setdefault("benefit_type", None)
    inputs.setdefault("account", None)
    return Trigger(message_type, item.envelope.event_id, item.envelope.occurred_at, participant, inputs, award_id)


def _key_code(item: Incoming) -> str | None:
    """benefits.awards and payments.events are keyed by the beneficiary's code: the fallback when the award
    is not (yet) known here."""
    try:
        key = (item.raw.key or b"").decode("ascii")
    except UnicodeDecodeError:
        return None
    return key if _INSURANCE_CODE.fullmatch(key) else None


_MAPPERS: dict[str, Callable[[Incoming, Effects], None]] = {
    "ContributionAssessed": _assessed, "ContributionAdjusted": _adjusted,
    "WorkerContributionsUnpaid": _unpaid,
    "BenefitAwarded": _awarded, "PaymentChannelChanged": _channel_changed,
    **{name: _award_step for name in AWARD_TYPES}, **{name: _payment for name in PAYMENT_TYPES},
}


# ---- composing: triggers x contacts -> rendered notification rows ---------------------------------------
@dataclass(frozen=True)
class Notification:
    """A row of notifications.notifications as the core creates it (pending)."""

    event_id: UUID
    participant_code: str
    channel: str
    message_type: str
    language: str
    recipient: str
    subject: str | None
    body: str
    triggered_at: datetime
    sms_fallback: str | None = None  # "unaccented" or "truncated" when the SMS had to be shortened


@dataclass
class Composed:
    notifications: list[Notification] = field(default_factory=list)
    without_contact: list[str] = field(default_factory=list)  # message types of triggers that reached nobody
    kept: list[tuple[str, Trigger]] = field(default_factory=list)  # of those, (participant, trigger) to keep
    newly_kept: int = 0  # of those, how many were kept (not already)
    told: int = 0  # kept triggers told now that a contact arrived
    created: list[tuple[str, str]] = field(default_factory=list)  # (channel, type) of the rows inserted


def compose(triggers: Sequence[Trigger], contacts: dict[str, Contact], awards: dict[str, AwardFacts],
            renderer: Renderer) -> Composed:
    """Render each trigger for each usable channel of its participant, in the participant's language."""
    out = Composed()
    for trigger in triggers:
        award = awards.get(trigger.award_id) if trigger.award_id else None
        participant = (award.beneficiary_code if award and award.beneficiary_code else None) \
            or trigger.participant_code
        channels = usable_channels(contacts.get(participant)) if participant else []
        if not channels:
            out.without_contact.append(trigger.message_type)
            if participant:  # someone to tell once a contact arrives
                out.kept.append((participant, trigger))
            continue
        inputs = _with_award(trigger.inputs, award)
        language = contacts[participant].language
        texts = renderer.render_all(trigger.message_type, language, inputs, [channel for channel, _ in channels])
        for channel, recipient in channels:
            text = texts[channel]
            fallback = "truncated" if text.truncated else "unaccented" if text.unaccented else None
            out.notifications.append(Notification(trigger.event_id, participant, channel, trigger.message_type,
                                                  language, recipient, text.subject, text.body,
                                                  trigger.triggered_at, fallback))
    return out


def _with_award(inputs: dict[str, Any], award: AwardFacts | None) -> dict[str, Any]:
    if award is None:
        return inputs
    filled = dict(inputs)
    if filled.get("benefit_type") is None:
        filled["benefit_type"] = award.benefit_type
    if filled.get("account") is None and award.account_last4 and filled.get("channel") in (None, "bank"):
        filled["account"] = MASK + award.account_last4
    return filled


def digest_trigger(digest: Digest, triggered_at: datetime) -> Trigger:
    """The monthly contribution digest of a worker (its event id derives from worker and month)."""
    return Trigger(CONTRIBUTIONS_RECORDED, digest_event_id(digest.worker_code, digest.period), triggered_at,
                   digest.worker_code,
                   {"period": digest.period, "declared_salary": digest.declared_salary,
                    "employee_amount": digest.employee_amount, "employer_amount": digest.employer_amount,
                    "total": digest.total, "employers": digest.employers, "benefit_type": None, "account": None})
