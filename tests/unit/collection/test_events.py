"""The events collection emits validate against their own wire schemas."""
from __future__ import annotations

import uuid
from datetime import date

import orjson

from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import RawMessage
from schemas import collection as wire
from services.collection.commands import DeclareSalary
from services.collection.domain.assessment import assess, revise
from services.collection.domain.law import load_law
from services.collection.domain.model import Declaration, Period
from services.collection.handlers import Collection, event_ids

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


def test_event_ids_made_a_batch_at_a_time_are_distinct_random_uuids_in_their_canonical_text():
    ids = event_ids(5000)
    assert len(set(ids)) == 5000
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 and str(u) == i for u, i in zip(parsed, ids))
    # Random, not a counter: every hex digit position outside the version and variant takes many values.
    assert all(len({i[k] for i in ids}) == 16 for k in range(36) if k not in (8, 13, 14, 18, 19, 23))


def test_a_prepared_batch_gives_each_assessed_event_its_own_id_in_its_envelope_and_its_outbox_row():
    envelopes = [{"event_id": str(uuid.uuid4()), "type": "SalaryDeclared", "schema_version": 1,
                  "occurred_at": "2025-08-01T00:00:00+00:00", "producer": "payroll",
                  "correlation_id": str(uuid.uuid4()), "causation_id": None, "payload": {
                      "employer_code": "DN0001", "employer_tax_code": "0101234567", "region": 1,
                      "reduced_accident_rate": False, "period": "2025-07", "worker_code": f"012345678{n}",
                      "worker_name": "Phạm Thu", "citizen_id": "001090012345", "contribution_salary": 10_000_000,
                      "funds": list(FUNDS), "revision": 0}} for n in range(3)]
    decoder = Decoder((wire.SalaryDeclared,))
    batch = [decoder.decode(RawMessage("collection.declarations", 0, n, b"DN0001", orjson.dumps(e)))
             for n, e in enumerate(envelopes)]
    handlers = Collection(lambda: None, LAW, lambda: date(2025, 9, 15))
    events = [event for _, _, (_, event) in handlers.prepare_declarations(batch).accepted]
    heads = [orjson.loads(e.value) for e in events]
    assert [h["event_id"] for h in heads] == [str(e.event_id) for e in events]
    assert len({h["event_id"] for h in heads}) == 3
    assert [h["causation_id"] for h in heads] == [e["event_id"] for e in envelopes]
