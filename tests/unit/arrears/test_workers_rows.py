"""What the workers' consumer keeps of each event of collection.assessments (pure half)."""
from __future__ import annotations

from datetime import date
from uuid import uuid4

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from schemas.collection import AmountLine, ContributionAdjusted, ContributionAssessed, UnderDeclarationFlagged
from schemas.envelope import encode, new_envelope
from schemas.topics import spec
from services.arrears.workers import first_day, rows_of

DECODER = Decoder(spec("collection.assessments").messages)
LINES = [AmountLine(fund="retirement", party="employer", amount=1)]


def decoded(message):
    return DECODER.decode(RawMessage("t", 0, 0, None, encode(new_envelope(message, "collection"))))


def test_each_kind_of_event_gives_the_worker_and_the_revision_it_was_seen_or_flagged_at():
    batch = [decoded(ContributionAssessed(
                employer_code="DN1", worker_code="0000000001", worker_name="A", period="2025-07", revision=0,
                due_date=date(2025, 8, 31), declared_salary=1, social_salary_base=1, unemployment_salary_base=1,
                floor_applied=True, cap_applied=False, lines=LINES, total=1)),
             decoded(ContributionAdjusted(
                employer_code="DN1", worker_code="0000000001", period="2025-07", revision=2, previous_revision=0,
                due_date=date(2025, 8, 31), declared_salary=1, lines=LINES, total_delta=1)),
             decoded(UnderDeclarationFlagged(employer_code="DN1", worker_code="0000000002", period="2025-12",
                                             revision=1, declared_salary=1, floor=2))]
    july, december = date(2025, 7, 1), date(2025, 12, 1)
    assert rows_of(batch, {i.envelope.event_id for i in batch}) == [
        ("DN1", july, "0000000001", 0, None), ("DN1", july, "0000000001", 2, None),
        ("DN1", december, "0000000002", -1, 1)]


def test_events_not_claimed_in_the_inbox_are_left_out():
    item = decoded(UnderDeclarationFlagged(employer_code="DN1", worker_code="0000000002", period="2025-12",
                                           revision=1, declared_salary=1, floor=2))
    assert rows_of([item], {uuid4()}) == []


def test_a_period_is_its_first_day():
    assert first_day("2024-02") == date(2024, 2, 1)
