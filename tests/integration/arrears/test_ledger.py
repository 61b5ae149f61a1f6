"""The ledger through the real broker and database: collection's events in, interest events out.

A running arrears service consumes collection.assessments and collection.allocations; the test then runs
the accrual for a date (as the scheduler would) and reads arrears.events. Period 2025-07 is due 2025-08-31;
interest is 0.03% per day on the principal unpaid at the end of the day, rounded half up per day.
"""
from __future__ import annotations

import json
from datetime import date

import asyncpg
import pytest

from ansinh.runtime import failpoints
from schemas.envelope import encode
from services.arrears.accrual import FAIL_AFTER_CHUNK, run_accrual
from services.arrears.handlers import CONSUMER as LEDGER
from tests.integration.arrears.accrual_world import allocated, assessed, start_run_process
from tests.kafka_helpers import header, publish, read_topic
from tests.waiting import eventually_async


class World:
    def __init__(self, isolated, service):
        self.isolated, self.service = isolated, service

    async def send(self, topic: str, *envelopes: dict, refused: int = 0) -> None:
        """Publish, then wait until the ledger has claimed every event but the ``refused`` ones (its change
        commits with the claim): a run started after that sees them, whichever consumer group finishes first."""
        await publish(self.isolated.bootstrap, self.isolated.topic(topic),
                      [(e["payload"]["employer_code"].encode(), encode(e)) for e in envelopes])
        ids = [e["event_id"] for e in envelopes]
        await eventually_async(lambda: self.claimed(ids), 30, until=lambda n: n == len(ids) - refused,
                               what=f"the ledger claims {len(ids) - refused} events of {topic}")
        await self.isolated.wait_until_idle("arrears")

    async def claimed(self, ids: list[str]) -> int:
        conn = await asyncpg.connect(self.isolated.service("arrears").service_database_url)
        try:
            return await conn.fetchval("SELECT count(*) FROM arrears.inbox WHERE consumer = $1 "
                                       "AND event_id = ANY($2::uuid[])", LEDGER, ids)
        finally:
            await conn.close()

    async def send_raw(self, topic: str, *values: bytes) -> None:
        await publish(self.isolated.bootstrap, self.isolated.topic(topic), [(b"DN0009", v) for v in values])

    async def accrue(self, day: str):
        pool = await asyncpg.create_pool(self.isolated.service("arrears").service_database_url, min_size=1,
                                         max_size=1)
        try:
            return await run_accrual(pool, date.fromisoformat(day), chunks=2)
        finally:
            await pool.close()

    async def events(self, expect: int) -> list[dict]:
        """Every event on arrears.events once ``expect`` are there and the service is idle (an extra one is
        returned too), as type + payload."""
        topic = self.isolated.topic("arrears.events")
        await read_topic(self.isolated.bootstrap, topic, expect)
        await self.isolated.wait_until_idle("arrears")
        records = await read_topic(self.isolated.bootstrap, topic, expect)
        return [{"type": json.loads(r.value)["type"], **json.loads(r.value)["payload"]} for r in records]


@pytest.fixture
async def world(isolated):
    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31")
    yield World(isolated, service)


def by_employer(events: list[dict]) -> dict[str, list[dict]]:
    found: dict[str, list[dict]] = {}
    for e in events:
        found.setdefault(e["employer_code"], []).append({k: v for k, v in e.items() if k != "employer_code"})
    return found


async def test_assessed_and_allocated_events_become_interest_events_and_order_does_not_matter(world):
    # DN0001 in order; DN0002 gets its payment before its assessment (collection.allocations is another topic).
    await world.send("collection.assessments", assessed("DN0001", "2025-07", {"retirement": 10_000_000}))
    await world.send("collection.allocations", allocated("DN0001", "P1", "2025-09-03", [("2025-07", "retirement", 4_000_000)]),
                     allocated("DN0002", "P2", "2025-09-03", [("2025-07", "retirement", 4_000_000)]))
    await world.send("collection.assessments", assessed("DN0002", "2025-07", {"retirement": 10_000_000}))
    result = await world.accrue("2025-09-05")

    # 09-01, 09-02: 10,000,000 x 0.0003 = 3,000 a day; 09-03..09-05: 6,000,000 x 0.0003 = 1,800 a day.
    expected = {"type": "InterestAssessed", "business_date": "2025-09-05", "amount": 2 * 3_000 + 3 * 1_800,
                "lines": [{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-01",
                           "to_day": "2025-09-05", "amount": 11_400}]}
    assert by_employer(await world.events(2)) == {"DN0001": [expected], "DN0002": [expected]}
    assert (result.assessed, result.employers) == (22_800, 2)


async def test_a_payment_arriving_backdated_after_accrual_is_corrected_by_an_explicit_event(world):
    await world.send("collection.assessments", assessed("DN0003", "2025-07", {"health": 2_000_000}))
    await world.accrue("2025-09-05")  # 5 days x 600 = 3,000
    # The bank's report of a payment made on 09-02 arrives only now.
    await world.send("collection.allocations", allocated("DN0003", "P3", "2025-09-02", [("2025-07", "health", 2_000_000)]))
    await world.accrue("2025-09-06")

    assert by_employer(await world.events(2))["DN0003"] == [
        {"type": "InterestAssessed", "business_date": "2025-09-05", "amount": 3_000,
         "lines": [{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-01", "to_day": "2025-09-05",
                    "amount": 3_000}]},
        # Had it been known: only 09-01 was late (600). 3,000 were charged: 2,400 given back; 09-06 costs nothing.
        {"type": "InterestCorrected", "business_date": "2025-09-06", "amount": -2_400,
         "lines": [{"period": "2025-07", "rule": "law41-art40", "from_day": "2025-09-01", "to_day": "2025-09-05",
                    "amount": -2_400}]}]


async def test_malformed_events_go_to_the_dlq_with_a_reason_and_the_rest_is_processed(world):
    bad_period = assessed("DN0004", "2015-03", {"health": 1_000})  # before arrears' law tables
    await world.send_raw("collection.allocations", b"{not json", encode({**allocated(
        "DN0004", "P4", "2025-09-01", [("2025-07", "health", 1)]), "payload": {"employer_code": "DN0004"}}))
    await world.send("collection.assessments", bad_period, assessed("DN0004", "2025-07", {"health": 1_000_000}),
                     refused=1)
    await world.accrue("2025-09-01")

    alloc_dlq = await read_topic(world.isolated.bootstrap, world.isolated.topic("collection.allocations.dlq"), 2)
    assess_dlq = await read_topic(world.isolated.bootstrap, world.isolated.topic("collection.assessments.dlq"), 1)
    assert [header(r, "dlq.stage") for r in alloc_dlq] == ["decode", "decode"]
    assert [r.value for r in alloc_dlq][0] == b"{not json"
    assert header(assess_dlq[0], "dlq.stage") == "check"
    assert "payload.period" in header(assess_dlq[0], "dlq.reason") and "2015" not in header(assess_dlq[0], "dlq.reason")
    assert [e["amount"] for e in await world.events(1)] == [300]  # the good assessment: 1,000,000 x 0.0003


async def test_the_same_date_twice_and_three_missed_days_put_exactly_the_right_events_on_the_topic(world):
    await world.send("collection.assessments", assessed("DN0005", "2025-07", {"retirement": 10_000_000}))
    await world.accrue("2025-09-01")
    await world.accrue("2025-09-01")  # again: nothing new
    await world.accrue("2025-09-05")  # 09-02, 09-03, 09-04 were missed

    assert [(e["type"], e["business_date"], e["amount"], e["lines"][0]["from_day"], e["lines"][0]["to_day"])
            for e in await world.events(2)] == [
        ("InterestAssessed", "2025-09-01", 3_000, "2025-09-01", "2025-09-01"),
        ("InterestAssessed", "2025-09-05", 4 * 3_000, "2025-09-02", "2025-09-05")]


async def test_a_run_killed_half_way_and_run_again_publishes_one_event_per_employer(world):
    employers = [f"DN{n:04d}" for n in range(100, 112)]
    await world.send("collection.assessments", *[assessed(e, "2025-07", {"health": 1_000_000}) for e in employers])
    crashed = start_run_process(world.isolated, "2025-09-02", 4, failpoints=FAIL_AFTER_CHUNK)
    assert crashed.wait(60) == failpoints.EXIT_CODE, crashed.stdout.read().decode()
    rerun = await world.accrue("2025-09-02")

    events = await world.events(len(employers))
    assert sorted(e["employer_code"] for e in events) == employers  # each once: none lost, none twice
    assert {e["amount"] for e in events} == {2 * 300} and rerun.assessed == len(employers) * 600
