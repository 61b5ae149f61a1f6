"""The events collection emits validate against their own wire schemas."""
from __future__ import annotations

import uuid

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from schemas import collection as wire
from services.collection.commands import DeclareSalary
from services.collection.domain.assessment import assess, revise
from services.collection.domain.law import load_law
from services.collection.domain.model import Declaration, Period
from services.collection.handlers import Collection

LAW = load_law()
FUNDS = ("sickness_maternity", "accident", "retirement", "health", "unemployment")


def command(salary: int, revision: int) -> DeclareSalary:
    d = Declaration("DN0001", 1, False, Period(2025, 7), "0123456789", "Phạm Thu", "001090012345", salary, FUNDS,
                    revision)
    return DeclareSalary(d, "0101234567", uuid.uuid4(), uuid.uuid4())


def decode(message) -> object:
    decoder = Decoder((wire.ContributionAssessed, wire.ContributionAdjusted))
    return decoder.decode(RawMessage("collection.assessments", 0, 0, b"DN0001", message.value)).message


def test_an_assessed_event_validates_against_contribution_assessed():
    c = command(10_000_000, 0)
    event = Collection._assessed_event(c, revise(None, assess(LAW, c.declaration)))
    decoded = decode(event)
    assert isinstance(decoded, wire.ContributionAssessed) and decoded.total == 3_200_000
    assert decoded.lines[0] == wire.AmountLine(fund="sickness_maternity", party="employer", amount=300_000)


def test_an_adjustment_event_validates_against_contribution_adjusted_with_negative_lines():
    first, second = command(10_000_000, 0), command(8_000_000, 1)
    outcome = revise(assess(LAW, first.declaration), assess(LAW, second.declaration))
    decoded = decode(Collection._assessed_event(second, outcome))
    assert isinstance(decoded, wire.ContributionAdjusted)
    assert decoded.total_delta == -640_000 and decoded.previous_revision == 0
