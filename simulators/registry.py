"""The benefit decision system and the participant registry: awards and their changes, and contact details.

Awards are keyed by beneficiary code on ``benefits.awards``; contacts by participant code on the compacted
``participants.contacts``. Each month a few awards are suspended, a few beneficiaries die (the registry
reports it), a few change account; the ledger says what the payment service must then pay, and to whom not.
"""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from schemas.benefits import (BeneficiaryDeceased, BenefitAwarded, BenefitSuspended, ContactDetailsChanged,
                              PaymentChannelChanged)
from schemas.envelope import encode, new_envelope
from simulators.payroll import Sent
from simulators.population import BANKS, Beneficiary, Population

AWARDS, CONTACTS = "benefits.awards", "participants.contacts"
HANOI = timezone(timedelta(hours=7))
SHARE_SUSPENDED = 0.01
SHARE_DECEASED = 0.004
SHARE_NEW_ACCOUNT = 0.01
SHARE_WORKERS_WITH_CONTACT = 0.7   # workers registered in the app or with a phone on file


@dataclass
class AwardState:
    award_id: str
    beneficiary_code: str
    amount: int
    recurrence: str
    first_period: str
    channel: dict
    stopped_from: str | None = None   # suspended or deceased from this period on
    why_stopped: str | None = None


@dataclass
class Registry:
    """What the decision system has decided, by award: the payment service must pay exactly these."""

    awards: dict[str, AwardState] = field(default_factory=dict)

    def payable(self, period: str) -> list[AwardState]:
        """Awards that must be paid for ``period`` (one-off awards only in their first period)."""
        return [a for a in self.awards.values()
                if a.first_period <= period and (a.stopped_from is None or period < a.stopped_from)
                and (a.recurrence == "monthly" or a.first_period == period)]


def _envelope(message, producer: str, rng: random.Random, when: datetime) -> bytes:
    return encode(new_envelope(message, producer, occurred_at=when, event_id=uuid.UUID(int=rng.getrandbits(128),
                                                                                       version=4)))


def award_id(beneficiary: Beneficiary) -> str:
    return f"AW-{beneficiary.code}"


def open_awards(population: Population, period: str, registry: Registry, seed: int) -> list[Sent]:
    """Every beneficiary's award (from ``period``) and contact details."""
    rng = random.Random(f"{seed}/{population.prefix}/awards/{period}")
    when = datetime(int(period[:4]), int(period[5:]), 1, 9, tzinfo=HANOI) - timedelta(days=10)
    sent = []
    for person in population.beneficiaries:
        ident = award_id(person)
        registry.awards[ident] = AwardState(ident, person.code, person.amount, person.recurrence, period,
                                            dict(person.channel))
        awarded = BenefitAwarded(award_id=ident, beneficiary_code=person.code, beneficiary_name=person.name,
                                 citizen_id=person.citizen_id, benefit_type=person.benefit_type, amount=person.amount,
                                 recurrence=person.recurrence, first_period=period, channel=person.channel)
        sent.append(Sent(AWARDS, person.code.encode(), _envelope(awarded, "benefit-decisions", rng, when)))
        contact = ContactDetailsChanged(participant_code=person.code, **{k: v for k, v in person.contact.items()
                                                                          if v is not None})
        sent.append(Sent(CONTACTS, person.code.encode(), _envelope(contact, "participant-registry", rng, when)))
    return sent


def month_changes(population: Population, period: str, registry: Registry, seed: int) -> list[Sent]:
    """Before ``period`` is paid: some awards suspended, some beneficiaries deceased, some new accounts."""
    rng = random.Random(f"{seed}/{population.prefix}/changes/{period}")
    when = datetime(int(period[:4]), int(period[5:]), 1, 9, tzinfo=HANOI) - timedelta(days=5)
    sent = []
    for person in population.beneficiaries:
        state = registry.awards.get(award_id(person))
        if state is None or state.stopped_from is not None or state.recurrence != "monthly" \
                or state.first_period >= period:
            continue
        draw = rng.random()
        if draw < SHARE_DECEASED:
            state.stopped_from, state.why_stopped = period, "deceased"
            message = BeneficiaryDeceased(beneficiary_code=person.code, date_of_death=when.date() - timedelta(days=3))
        elif draw < SHARE_DECEASED + SHARE_SUSPENDED:
            state.stopped_from, state.why_stopped = period, "suspended"
            message = BenefitSuspended(award_id=state.award_id, from_period=period, reason="ho so can bo sung")
        elif draw < SHARE_DECEASED + SHARE_SUSPENDED + SHARE_NEW_ACCOUNT and state.channel["kind"] == "bank":
            state.channel = {**state.channel, "bank_bin": rng.choice(BANKS),
                             "account_number": f"{rng.randrange(10**9, 10**13)}"}
            message = PaymentChannelChanged(award_id=state.award_id, from_period=period, channel=state.channel)
        else:
            continue
        sent.append(Sent(AWARDS, person.code.encode(), _envelope(message, "benefit-decisions", rng, when)))
    return sent


def expected_payments(registry: Registry, period: str) -> dict[str, int]:
    """Award id -> amount the payment service must pay for ``period``."""
    return {a.award_id: a.amount for a in registry.payable(period)}



def worker_contacts(population: Population, seed: int, when: datetime) -> tuple[list[Sent], dict[str, dict]]:
    """Contact details for a share of the workers (the registry covers every participant): mostly SMS, some
    e-mail and app push, nearly all in Vietnamese. Returns the messages and the contacts by worker code."""
    rng = random.Random(f"{seed}/{population.prefix}/worker-contacts")
    sent, contacts = [], {}
    for worker in population.workers:
        if rng.random() >= SHARE_WORKERS_WITH_CONTACT:
            continue
        wants = [c for c, share in (("sms", 0.8), ("email", 0.5), ("push", 0.4)) if rng.random() < share] or ["sms"]
        contact = {"phone": f"+849{rng.randrange(10**8):08d}", "language": "en" if rng.random() < 0.03 else "vi",
                   "channels": wants}
        if "email" in wants:
            contact["email"] = f"ld.{worker.code}@example.vn"
        if "push" in wants:
            contact["app_token"] = f"tok-{worker.code}-{rng.randrange(10**8)}"
        contacts[worker.code] = contact
        message = ContactDetailsChanged(participant_code=worker.code, **contact)
        sent.append(Sent(CONTACTS, worker.code.encode(), _envelope(message, "participant-registry", rng, when)))
    return sent, contacts
