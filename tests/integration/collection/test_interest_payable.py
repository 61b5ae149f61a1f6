"""Interest payable: arrears' InterestAssessed / InterestCorrected on arrears.events become obligations of fund
``interest`` in collection, paid after the period's contributions (services/collection/interest.py).

A declaration of 10,000,000 for 2025-07 owes 3,200,000 (health 450,000, unemployment 200,000, accident
50,000, sickness & maternity 300,000, retirement 2,200,000); arrears charged 840 dong of interest on it.
"""
from __future__ import annotations

import json
from datetime import date
from uuid import UUID

from hypothesis import HealthCheck, given, settings, strategies as st

from schemas.arrears import InterestAssessed, InterestCorrected, InterestLine
from schemas.envelope import encode, new_envelope
from tests.integration.collection.conftest import declaration, remittance
from tests.kafka_helpers import publish
from tests.waiting import eventually_async

CONTRIBUTIONS = [("2025-07", "health", 450_000), ("2025-07", "unemployment", 200_000),
                 ("2025-07", "accident", 50_000), ("2025-07", "sickness_maternity", 300_000),
                 ("2025-07", "retirement", 2_200_000)]


def interest(kind, amount: int, day: str, to_day: str) -> dict:
    line = InterestLine(period="2025-07", rule="law41-art40", from_day=date.fromisoformat(day),
                        to_day=date.fromisoformat(to_day), amount=amount)
    return new_envelope(kind(employer_code="DN0001", business_date=date.fromisoformat(to_day), amount=amount,
                             lines=[line]), "arrears")


async def charge(collection, *envelopes: dict) -> None:
    await publish(collection.isolated.bootstrap, collection.isolated.topic("arrears.events"),
                  [(b"DN0001", encode(e)) for e in envelopes])


async def interest_obligation(collection, assessed: int) -> None:
    await eventually_async(lambda: collection.sql("SELECT assessed FROM collection.obligations WHERE fund = 'interest'"),
                           until=lambda rows: [r["assessed"] for r in rows] == [assessed],
                           what=f"an interest obligation of {assessed}")


def lines(event: dict) -> list[tuple[str, str, int]]:
    return [(l["period"], l["fund"], l["amount"]) for l in event["payload"]["lines"]]


async def test_a_payment_settles_the_contributions_first_and_the_interest_last(collection):
    await collection.declare(declaration(period="2025-07"))
    await collection.events("collection.assessments", expect=1)
    await charge(collection, interest(InterestAssessed, 840, "2025-09-01", "2025-09-02"))
    await interest_obligation(collection, 840)

    await collection.pay(remittance("P1", 3_200_000 + 840, value_date="2025-09-03"))
    [paid] = await collection.events("collection.allocations", expect=1)
    assert lines(paid) == CONTRIBUTIONS + [("2025-07", "interest", 840)]
    assert paid["payload"]["credit_balance"] == 0


async def test_credit_pays_new_interest_at_once_and_a_negative_correction_gives_it_back(collection):
    await collection.declare(declaration(period="2025-07"))
    await collection.events("collection.assessments", expect=1)
    await collection.pay(remittance("P1", 3_300_000, value_date="2025-09-01"))  # 100,000 left as credit
    await collection.events("collection.allocations", expect=1)

    await charge(collection, interest(InterestAssessed, 840, "2025-09-01", "2025-09-02"))
    events = await collection.events("collection.allocations", expect=2)
    assert lines(events[1]) == [("2025-07", "interest", 840)]
    assert (events[1]["payload"]["payment_id"], events[1]["payload"]["credit_balance"]) == ("P1", 100_000 - 840)

    # A backdated payment made arrears give back 420: the obligation shrinks and the money returns to credit.
    await charge(collection, interest(InterestCorrected, -420, "2025-09-02", "2025-09-03"))
    await interest_obligation(collection, 420)
    status, statement = collection.get("/employers/DN0001/statement")
    assert status == 200 and statement["credit_balance"] == 100_000 - 420
    assert statement["periods"][0]["funds"]["interest"] == {"assessed": 420, "paid": 420, "outstanding": 0}


async def test_the_same_interest_event_twice_is_charged_once(collection):
    await collection.declare(declaration(period="2025-07"))
    await collection.events("collection.assessments", expect=1)
    charged = interest(InterestAssessed, 840, "2025-09-01", "2025-09-02")
    await charge(collection, charged, charged)
    await charge(collection, charged)
    await collection.isolated.wait_until_idle("collection")
    await interest_obligation(collection, 840)


ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                    max_size=4), max_leaves=10)


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk=st.lists(st.binary(max_size=300) | ANY_JSON.map(lambda v: json.dumps(v).encode()), min_size=30,
                     max_size=30),
       fields=st.lists(st.tuples(st.sampled_from(["employer_code", "business_date", "amount", "lines"]), ANY_JSON),
                       min_size=10, max_size=10))
async def test_arbitrary_bytes_and_mangled_interest_events_never_stop_collections_interest_consumer(
        collection, junk, fields):
    good = interest(InterestAssessed, 840, "2025-09-01", "2025-09-02")
    mangled = [encode({**good, "event_id": f"6f1c2d3e-4b5a-6789-abcd-ef01234567{i:02d}",
                       "payload": {**good["payload"], name: value}}) for i, (name, value) in enumerate(fields)]
    await publish(collection.isolated.bootstrap, collection.isolated.topic("arrears.events"),
                  [(b"DN0001", v) for v in [*junk, *mangled]] + [(b"DN0001", encode(good))])
    # The last, valid event is processed: nothing before it stopped the consumer (the bad ones went to the DLQ;
    # a mangled one the contract still accepts is simply another charge).
    await eventually_async(lambda: collection.sql("SELECT 1 FROM collection.inbox WHERE consumer = "
                                                  "'collection.interest' AND event_id = $1", UUID(good["event_id"])),
                           what="the valid interest event after the hostile ones is processed")
    assert collection.service.get("/ready", token=None)[0] == 200
