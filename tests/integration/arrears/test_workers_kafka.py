"""The workers' consumer through the real broker: out of order, malformed and arbitrary messages on
collection.assessments, then the daily run telling the workers on arrears.events.

DN0001 owes 2 x 700,000 for 2025-07 (due 2025-08-31) and has not paid.
"""
from __future__ import annotations

import json
from uuid import UUID

from hypothesis import HealthCheck, given, settings, strategies as st

from schemas.envelope import encode
from tests.integration.arrears.ops_ledger import assessed, topic_events, until
from tests.integration.arrears.test_workers import flagged
from tests.kafka_helpers import publish, read_topic

DUE = "2025-08-31"


async def test_workers_are_recorded_in_any_order_past_malformed_messages_and_told_once(isolated):
    service = isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31")
    topic = isolated.topic("collection.assessments")
    # The flag of worker 2 comes before its assessment; two malformed records sit in between.
    await publish(isolated.bootstrap, topic, [
        (b"DN0001", encode(flagged("0000000002", 0))),
        (b"DN0001", b"{not json"),
        (b"DN0001", encode({**assessed("DN0001", "2025-07", "0000000001", 700_000, DUE), "payload": {"period": 7}})),
        (b"DN0001", encode(assessed("DN0001", "2025-07", "0000000001", 700_000, DUE))),
        (b"DN0001", encode(assessed("DN0001", "2025-07", "0000000002", 700_000, DUE)))])
    await until(isolated, "SELECT string_agg(worker_code || ':' || revision || ':' || coalesce(flagged_revision, -9), "
                          "',' ORDER BY worker_code) FROM arrears.declared_workers",
                "0000000001:0:-9,0000000002:0:0")
    dead = await read_topic(isolated.bootstrap, topic + ".dlq", expect=2)
    reasons = {dict(r.headers)["dlq.reason"].decode() for r in dead}
    assert len(dead) >= 2 and all(reasons), reasons  # each reading group dead-letters what it cannot decode

    status, body = service.request("POST", "/runs", {"business_date": "2025-09-01", "reason": "test"})
    assert status == 200, body
    told = [e for e in await topic_events(isolated, expect=4) if e["type"] == "WorkerContributionsUnpaid"]
    assert sorted((e["worker_code"], tuple(e["periods"])) for e in told) == [("0000000001", ("2025-07",)),
                                                                              ("0000000002", ("2025-07",))]
    status, body = service.request("POST", "/runs", {"business_date": "2025-09-02", "reason": "test"})
    assert status == 200 and json.loads(body)["worker_notices"] == 0


ANY_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                    max_size=4), max_leaves=10)


@settings(max_examples=1, deadline=None, suppress_health_check=list(HealthCheck))
@given(junk=st.lists(st.binary(max_size=300) | ANY_JSON.map(lambda v: json.dumps(v).encode()), min_size=30,
                     max_size=30),
       fields=st.lists(st.tuples(st.sampled_from(["worker_code", "period", "revision", "employer_code", "lines"]),
                                 ANY_JSON), min_size=10, max_size=10))
async def test_arbitrary_bytes_and_mangled_fields_never_stop_the_workers_consumer(isolated, junk, fields):
    isolated.start_service("arrears", ANSINH_BUSINESS_DATE="2025-12-31")
    good = assessed("DN0001", "2025-07", "0000000007", 700_000, DUE)
    mangled = [encode({**good, "event_id": f"6f1c2d3e-4b5a-6789-abcd-ef01234567{i:02d}",
                       "payload": {**good["payload"], name: value}}) for i, (name, value) in enumerate(fields)]
    await publish(isolated.bootstrap, isolated.topic("collection.assessments"),
                  [(b"DN0001", v) for v in [*junk, *mangled]] + [(b"DN0001", encode(good))])
    # The last, valid message is processed by the workers' consumer: nothing before it stopped it (a mangled
    # message the contract still accepts is simply another declaration).
    await until(isolated, "SELECT count(*) FROM arrears.inbox WHERE consumer = 'arrears-workers' AND event_id = $1",
                1, UUID(good["event_id"]))
    await until(isolated, "SELECT count(*) FROM arrears.declared_workers WHERE employer_code = 'DN0001' "
                          "AND worker_code = '0000000007' AND period = '2025-07-01'", 1)
