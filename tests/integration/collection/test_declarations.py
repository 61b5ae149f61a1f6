"""Declarations through Kafka and PostgreSQL: assessed events, revisions, duplicates, refusals."""
from __future__ import annotations

import pytest

from tests.integration.collection.conftest import declaration
from tests.kafka_helpers import header

pytestmark = pytest.mark.integration


def by_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == kind]


async def test_each_declaration_is_assessed_and_announced_once(collection):
    first, second = declaration("0000000001", 10_000_000), declaration("0000000002", 60_000_000)
    await collection.declare(first, second, first)  # the first one is delivered twice
    events = await collection.events("collection.assessments", expect=2, settle=2.0)
    assessed = {e["payload"]["worker_code"]: e for e in by_type(events, "ContributionAssessed")}
    assert len(events) == 2 and set(assessed) == {"0000000001", "0000000002"}
    one = assessed["0000000001"]
    assert one["payload"]["total"] == 3_200_000 and one["payload"]["due_date"] == "2025-08-31"
    assert one["causation_id"] == first["event_id"] and one["correlation_id"] == first["correlation_id"]
    two = assessed["0000000002"]["payload"]
    assert (two["social_salary_base"], two["unemployment_salary_base"], two["cap_applied"]) == (46_800_000, 60_000_000, True)
    rows = await collection.sql("SELECT worker_code, total FROM collection.assessments ORDER BY worker_code")
    assert [(r["worker_code"], r["total"]) for r in rows] == [("0000000001", 3_200_000),
                                                              ("0000000002", two["total"])]


async def test_a_salary_below_the_floor_is_assessed_on_the_floor_and_flagged(collection):
    await collection.declare(declaration("0000000003", 2_000_000, region=3))
    events = await collection.events("collection.assessments", expect=2)
    [assessed] = by_type(events, "ContributionAssessed")
    [flag] = by_type(events, "UnderDeclarationFlagged")
    assert assessed["payload"]["social_salary_base"] == 3_860_000 and assessed["payload"]["floor_applied"]
    assert flag["payload"] == {"employer_code": "DN0001", "worker_code": "0000000003", "period": "2025-07",
                               "revision": 0, "declared_salary": 2_000_000, "floor": 3_860_000}
    [row] = await collection.sql("SELECT kind FROM collection.compliance_flags")
    assert row["kind"] == "under_declaration"


async def test_revisions_up_and_down_are_adjustments_and_a_late_old_revision_changes_nothing(collection):
    await collection.declare(declaration(salary=10_000_000, revision=0))
    await collection.events("collection.assessments", expect=1)
    await collection.declare(declaration(salary=12_000_000, revision=1))
    await collection.events("collection.assessments", expect=2)
    await collection.declare(declaration(salary=9_000_000, revision=3), declaration(salary=50_000_000, revision=2))
    events = await collection.events("collection.assessments", expect=3, settle=2.0)
    adjusted = by_type(events, "ContributionAdjusted")
    assert [e["payload"]["total_delta"] for e in adjusted] == [640_000, -960_000]
    assert [(e["payload"]["previous_revision"], e["payload"]["revision"]) for e in adjusted] == [(0, 1), (1, 3)]
    assert len(events) == 3
    [obligation] = await collection.sql("SELECT sum(assessed) AS owed FROM collection.obligations")
    assert obligation["owed"] == 2_880_000  # 32% of 9,000,000: the latest revision only


async def test_invalid_declarations_go_to_the_dlq_with_an_actionable_reason_and_change_nothing(collection):
    far = declaration(period="2025-11")               # business date 2025-09-15: more than a month ahead
    absurd = declaration(salary=5_000_000_000)
    negative, region, missing = declaration(), declaration(), declaration()
    negative["payload"]["contribution_salary"] = -1
    region["payload"]["region"] = 5
    del missing["payload"]["citizen_id"]
    bad_code = declaration()
    bad_code["payload"]["worker_code"] = "12345"
    old = declaration(period="2019-01")               # before the law tables
    await collection.declare(far, absurd, bad_code, old, negative, region, missing)
    from tests.kafka_helpers import publish
    await publish(collection.isolated.bootstrap, collection.isolated.topic("collection.declarations"),
                  [(b"DN0001", b"not json at all")])
    dead = await collection.dead("collection.declarations", expect=8)
    reasons = sorted(header(r, "dlq.reason") for r in dead)
    assert len(dead) == 8
    assert any("payload.contribution_salary: Input should be greater than or equal to 0" in r for r in reasons)
    assert any("payload.region: Input should be less than or equal to 4" in r for r in reasons)
    assert not any("(got " in r for r in reasons)  # which field and why, never the value sent
    assert any("payload.citizen_id: Field required" in r for r in reasons)
    assert any("2025-11 is more than 1 month(s) ahead" in r for r in reasons)
    assert any("exceeds the plausibility limit" in r for r in reasons)
    assert any("payload.worker_code: String should match pattern" in r for r in reasons)
    assert any("period 2019-01: no regional minimum wage in force" in r for r in reasons)
    assert any(r.startswith("malformed JSON") for r in reasons)
    assert await collection.sql("SELECT 1 FROM collection.assessments") == []
    assert await collection.sql("SELECT 1 FROM collection.inbox") == []
    log = collection.service.log_tail() + open(collection.service.log_path).read()
    assert f'"correlation_id": "{far["correlation_id"]}"' in log  # the refusal is logged with its flow's id
    _, metrics = collection.service.get("/metrics")
    counts = {"far_future_period": 1, "absurd_salary": 1, "invalid_fields": 4, "no_law_for_period": 1,
              "malformed_json": 1}
    for reason, count in counts.items():
        assert f'collection_declarations_rejected_total{{reason="{reason}"}} {count}.0'.encode() in metrics
