"""Bank and cash status through Kafka and PostgreSQL: a period paid end to end, duplicates, late and unknown
reports, unreadable documents."""
from __future__ import annotations

import pytest

from tests.integration.payments.status_world import status_world
from tests.unit.payments.pain002_documents import pain002

pytestmark = pytest.mark.integration


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e["payload"] for e in events if e["type"] == kind]


async def test_a_period_is_paid_end_to_end_with_a_bank_that_settles_some_and_rejects_others(isolated):
    async with status_world(isolated) as world:
        pay = world.payment_of
        # 970436 settles its whole batch with one group status; 970415 settles one and rejects one for a closed
        # account (AC04); 970418 answers in JSON: one accepted then settled, one rejected for another reason.
        await world.bank_document("970436", pain002(world.message_of["970436"], group_status="ACSC"))
        await world.bank_document("970415", pain002(world.message_of["970415"], group_status="PART", transactions=[
            (pay[1], "ACSC", None), (pay[7], "RJCT", "AC04")]))
        await world.bank_json("970418", pay[2], "ACTC")
        await world.bank_json("970418", pay[2], "ACSC")
        await world.bank_json("970418", pay[5], "RJCT", "AM04")
        await world.cash(pay[4], "BC-4", "paid")
        await world.cash(pay[8], "BC-8", "unclaimed")

        # AM04 is retried (backoff 0 in this test): a second attempt with its own EndToEndId goes out.
        await world.until_states({pay[5]: "sent"})
        [retry] = [o["payload"] for o in await world.events("payments.orders", expect=7)
                   if o["type"] == "PaymentOrderIssued" and o["payload"]["attempt"] == 2]
        assert (retry["payment_id"], retry["end_to_end_id"]) == (pay[5], f"{pay[5]}-R02")
        await world.bank_json("970418", f"{pay[5]}-R02", "ACSC")

        states = await world.until_states({pay[1]: "settled", pay[2]: "settled", pay[3]: "settled",
                                           pay[5]: "settled", pay[6]: "settled", pay[7]: "rerouted",
                                           pay[4]: "paid", pay[8]: "unclaimed"})
        assert len(states) == 8

        events = await world.events("payments.events", expect=20)
        assert sorted(e["payment_id"] for e in of_type(events, "PaymentSettled")) == sorted(
            pay[n] for n in (1, 2, 3, 5, 6))
        rejected = {e["payment_id"]: (e["reason_code"], e["next_step"]) for e in of_type(events, "PaymentRejected")}
        assert rejected == {pay[7]: ("AC04", "reroute"), pay[5]: ("AM04", "retry")}
        [rerouted] = of_type(events, "PaymentReroutedToCash")
        assert (rerouted["payment_id"], rerouted["paying_office"], rerouted["pay_from"], rerouted["pay_until"]) == (
            pay[7], "BC-77", "2026-02-11", "2026-02-25")
        assert [e["payment_id"] for e in of_type(events, "CashPaymentCollected")] == [pay[4]]
        assert all("account_number" not in e for e in events for e in [e["payload"]])

        # The rejected transfer is paid in cash under the SAME payment identity.
        cash_orders = [o["payload"] for o in await world.events("payments.cash-orders", expect=3)]
        assert [o["paying_office"] for o in cash_orders if o["payment_id"] == pay[7]] == ["BC-77"]

        # Reconciliation: the run and each bank batch add up.
        status, body = world.get("/runs/2026-01/reconciliation", reader="reader")
        assert status == 200, body
        assert body["adds_up"], body["mismatches"]
        assert {k: body[k]["count"] for k in ("sent", "settled", "rejected", "outstanding")} == {
            "sent": 8, "settled": 6, "rejected": 2, "outstanding": 0}
        status, batch = world.get(f"/batches/{world.message_of['970415']}", reader="reader")
        assert status == 200 and batch["reconciliation"]["adds_up"]
        assert {i["payment_id"]: i["last_status"] for i in batch["items"]} == {pay[1]: "ACSC", pay[7]: "RJCT"}


async def test_duplicate_and_late_reports_change_nothing_and_emit_nothing(isolated):
    async with status_world(isolated) as world:
        pay = world.payment_of
        document = pain002(world.message_of["970436"], group_status="ACSC")
        await world.bank_document("970436", document)
        await world.until_states({pay[3]: "settled", pay[6]: "settled"})
        before = await world.events("payments.events", expect=1)

        await world.bank_document("970436", document)          # the same report again (a new event id)
        await world.bank_json("970436", pay[3], "ACTC")         # an acceptance arriving after settlement
        await world.bank_json("970436", pay[6], "RJCT", "AC04")  # a rejection after settlement
        await world.isolated.wait_until_idle("payments")

        outcomes = await world.fetch("SELECT payment_id, status, outcome FROM status_reports ORDER BY id")
        assert [r["outcome"] for r in outcomes] == ["changed", "changed", "duplicate", "duplicate", "late", "late"]
        assert (await world.states())[pay[3]] == "settled" and (await world.states())[pay[6]] == "settled"
        after = await world.events("payments.events", expect=len(before))
        assert {e["event_id"] for e in after} == {e["event_id"] for e in before}


async def test_a_status_for_an_unknown_payment_or_an_unsent_message_goes_to_the_dlq(isolated):
    async with status_world(isolated) as world:
        await world.bank_json("970436", "PMT999999", "ACSC")
        await world.bank_document("970436", pain002("NEVER-SENT-1", group_status="RJCT", group_reason="DU01"))
        await world.bank_json("970415", world.payment_of[3], "ACSC")   # a bank reporting another bank's payment
        await world.cash(world.payment_of[4], "BC-999", "paid")        # another office's payment
        await world.cash("PMT999998", "BC-4", "paid")

        bank = await world.dead_letters("payments.bank-status", expect=3)
        reasons = sorted(r for r, _ in bank)
        assert any("end_to_end_id: 1 of 1 statuses name a payment this service never sent" in r for r in reasons)
        assert any("another bank" in r for r in reasons)
        assert any("OrgnlMsgId" in r for r in reasons)
        cash = await world.dead_letters("payments.cash-status", expect=2)
        assert sorted(r.split(":")[0] for r, _ in cash) == ["paying_office", "payment_id"]
        assert all(s == "sent" for s in (await world.states()).values())


@pytest.mark.parametrize("document, reason", [
    ("<Document><CstmrPmtStsRpt>unclosed", "not well-formed"),
    ('<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Document>&x;</Document>', "not allowed"),
    ('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"/>', "not a pain.002"),
])
async def test_an_unreadable_or_unsafe_pain002_goes_to_the_dlq_with_its_reason(isolated, document, reason):
    async with status_world(isolated) as world:
        await world.bank_document("970436", document)
        await world.raw("payments.bank-status", b"\xff not json")
        letters = await world.dead_letters("payments.bank-status", expect=2)
        assert any(reason in r for r, _ in letters), letters
        assert all(s == "sent" for s in (await world.states()).values())
        status, _ = world.service.get("/ready", token=None)
        assert status == 200
