"""benefits.awards through the real broker into the payments service's entitlements; what cannot be applied
goes to benefits.awards.dlq with a reason that names the field, never a person's value."""
from __future__ import annotations

import asyncpg
import pytest

from schemas import benefits
from tests.integration.payments.core_helpers import API_TOKENS, awarded, cash, event, send_awards
from tests.kafka_helpers import header, publish, read_topic

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
async def payments(isolated):
    yield isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_BATCH_WINDOW_S="0.05")


async def entitlements(isolated) -> dict[str, asyncpg.Record]:
    conn = await asyncpg.connect(isolated.service("payments").service_database_url)
    try:
        return {r["award_id"]: r for r in await conn.fetch("SELECT * FROM payments.entitlements")}
    finally:
        await conn.close()


async def test_awards_suspensions_resumptions_terminations_and_channel_changes_become_entitlements(isolated, payments):
    await send_awards(isolated,
                      awarded("AW-1", "0000000001"), awarded("AW-2", "0000000002", channel=cash()),
                      awarded("AW-3", "0000000003"), awarded("AW-4", "0000000004", amount=9_000_000))
    await send_awards(isolated,
                      event(benefits.BenefitSuspended, award_id="AW-1", from_period="2026-02", reason="chưa nhận"),
                      event(benefits.BenefitResumed, award_id="AW-1", from_period="2026-04", reason="đã nhận"),
                      event(benefits.PaymentChannelChanged, award_id="AW-2", from_period="2026-03",
                            channel={"kind": "bank", "bank_bin": "970415", "account_number": "123456789",
                                     "account_name": "PHAM THI DUNG"}),
                      event(benefits.BenefitTerminated, award_id="AW-3", from_period="2026-02", reason="hết hạn"),
                      awarded("AW-4", "0000000004", amount=9_500_000), key="0000000001")
    await isolated.wait_until_idle("payments")
    rows = await entitlements(isolated)
    assert (rows["AW-1"]["status"], str(rows["AW-1"]["status_from"]), rows["AW-1"]["prior_status"]) == \
        ("active", "2026-04-01", "suspended")
    assert (rows["AW-2"]["channel"], rows["AW-2"]["bank_bin"], str(rows["AW-2"]["channel_from"])) == \
        ("bank", "970415", "2026-03-01")
    assert (rows["AW-3"]["status"], str(rows["AW-3"]["status_from"])) == ("terminated", "2026-02-01")
    assert rows["AW-4"]["amount"] == 9_500_000


async def test_unknown_awards_impossible_transitions_and_malformed_events_go_to_the_dlq_with_a_reason(isolated,
                                                                                                       payments):
    await send_awards(isolated, awarded("AW-1", "0000000001"), awarded("AW-2", "0000000002"))
    await send_awards(isolated,
                      event(benefits.BenefitTerminated, award_id="AW-1", from_period="2026-02", reason="hết hạn"),
                      event(benefits.BeneficiaryDeceased, beneficiary_code="0000000002", date_of_death="2026-02-10"))
    await isolated.wait_until_idle("payments")
    bad = [event(benefits.BenefitSuspended, award_id="AW-404", from_period="2026-02", reason="x"),
           event(benefits.BenefitResumed, award_id="AW-1", from_period="2026-05", reason="x"),
           event(benefits.BenefitResumed, award_id="AW-2", from_period="2026-05", reason="x"),
           awarded("AW-9", "0000000002")]
    await send_awards(isolated, *bad)
    await publish(isolated.bootstrap, isolated.topic("benefits.awards"),
                  [(b"0000000003", b'{"not": "an envelope"'), (b"0000000003", b"\xff\xfe")])
    dead = await read_topic(isolated.bootstrap, isolated.topic("benefits.awards.dlq"), 6)
    await isolated.wait_until_idle("payments")
    dead = await read_topic(isolated.bootstrap, isolated.topic("benefits.awards.dlq"), 6)
    reasons = sorted(header(r, "dlq.reason") for r in dead)
    assert len(dead) == 6, reasons
    assert sum("no award with this id" in r for r in reasons) == 1
    assert sum("terminated award is never resumed" in r for r in reasons) == 1
    assert sum("recorded as deceased" in r for r in reasons) == 2
    assert sum(header(r, "dlq.stage") == "decode" for r in dead) == 2
    for r in reasons:
        assert "0000000002" not in r and "Lê Văn" not in r and "001090012345" not in r
    rows = await entitlements(isolated)
    assert set(rows) == {"AW-1", "AW-2"} and rows["AW-2"]["status"] == "deceased"
    assert str(rows["AW-2"]["status_from"]) == "2026-02-01"


async def test_a_suspended_terminated_or_deceased_beneficiary_gets_nothing_from_the_run(isolated, payments):
    from tests.integration.payments.core_helpers import call, sql, wait_for_state

    await send_awards(isolated, *(awarded(f"AW-{n}", f"000000000{n}") for n in range(1, 6)))
    await send_awards(isolated,
                      event(benefits.BenefitSuspended, award_id="AW-1", from_period="2026-01", reason="chưa nhận"),
                      event(benefits.BenefitTerminated, award_id="AW-2", from_period="2026-01", reason="hết hạn"),
                      event(benefits.BeneficiaryDeceased, beneficiary_code="0000000003", date_of_death="2026-01-03"))
    await isolated.wait_until_idle("payments")
    status, _ = call(payments, "POST", "/runs/2026-01/prepare", "clerk", {"reason": "January"})
    assert status == 202
    prepared = wait_for_state(payments, "2026-01", {"prepared"})
    paid = sorted(r["award_id"] for r in await sql(isolated, "SELECT award_id FROM payments.payments"))
    assert paid == ["AW-4", "AW-5"] and prepared["payments"] == 2

    # Reported deceased after the run was prepared: the payment is stopped, and the totals shown no longer hold.
    await send_awards(isolated, event(benefits.BeneficiaryDeceased, beneficiary_code="0000000004",
                                      date_of_death="2025-12-28"))
    await isolated.wait_until_idle("payments")
    states = {r["award_id"]: r["state"] for r in await sql(isolated, "SELECT award_id, state FROM payments.payments")}
    assert states == {"AW-4": "stopped", "AW-5": "created"}
    status, refused = call(payments, "POST", "/runs/2026-01/approve", "checker", {"reason": "ok"})
    assert status == 409 and refused["code"] == "run_changed", refused
    call(payments, "POST", "/runs/2026-01/prepare", "clerk", {"reason": "again after a death"})
    again = wait_for_state(payments, "2026-01", {"prepared"})
    assert again["payments"] == 1
    status, approved = call(payments, "POST", "/runs/2026-01/approve", "checker", {"reason": "ok"})
    assert status == 200, approved
    sent = wait_for_state(payments, "2026-01", {"sent"})
    assert {(s["state"], s["count"]) for s in sent["by_state"]} == {("sent", 1), ("stopped", 1)}
