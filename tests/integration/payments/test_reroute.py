"""Rejected transfers through Kafka and PostgreSQL: moved to cash, retried with backoff, returned."""
from __future__ import annotations

import pytest

from tests.integration.payments.status_world import status_world
from tests.unit.payments.pain002_documents import pain002

pytestmark = pytest.mark.integration


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e["payload"] for e in events if e["type"] == kind]


async def test_an_account_problem_moves_the_payment_to_cash_under_the_same_identity(isolated):
    async with status_world(isolated) as world:
        payment = world.payment_of[7]  # award 7 once took cash at BC-77
        await world.bank_json("970415", payment, "RJCT", "BE01")
        await world.until_states({payment: "rerouted"})
        [order] = [o["payload"] for o in await world.events("payments.cash-orders", expect=3)
                   if o["payload"]["payment_id"] == payment]
        assert (order["paying_office"], order["amount"], order["period"]) == ("BC-77", 3070000, "2026-01")
        [row] = await world.fetch("SELECT channel, paying_office, reason_code FROM payments WHERE payment_id = $1",
                                  payment)
        assert tuple(row) == ("cash", "BC-77", "BE01")
        # ... and the cash office's report closes it; a late bank status then changes nothing (and is no error).
        await world.cash(payment, "BC-77", "paid")
        await world.until_states({payment: "paid"})
        await world.bank_json("970415", payment, "ACSC")
        await world.isolated.wait_until_idle("payments")
        assert (await world.states())[payment] == "paid"
        late = await world.fetch("SELECT status, outcome FROM status_reports WHERE payment_id = $1 AND source = 'bank' "
                                 "ORDER BY id", payment)
        assert [tuple(r) for r in late] == [("RJCT", "changed"), ("ACSC", "late")]
        assert await world.dead_letters("payments.bank-status", expect=0) == []
        events = await world.events("payments.events", expect=1)
        assert [e["payment_id"] for e in of_type(events, "CashPaymentCollected")] == [payment]
        assert not of_type(events, "PaymentSettled")


async def test_an_account_problem_without_any_paying_office_is_returned(isolated):
    async with status_world(isolated) as world:
        payment = world.payment_of[1]  # award 1 was never paid in cash
        await world.bank_json("970415", payment, "RJCT", "AC01")
        await world.until_states({payment: "returned"})
        events = await world.events("payments.events", expect=1)
        assert [(e["payment_id"], e["reason_code"], e["attempts"]) for e in of_type(events, "PaymentReturned")] == [
            (payment, "AC01", 1)]
        assert not of_type(events, "PaymentReroutedToCash")


async def test_other_rejections_are_retried_until_the_attempts_are_used_up_then_returned(isolated):
    async with status_world(isolated, ANSINH_PAYMENTS_RETRY_MAX_ATTEMPTS="2") as world:
        payment = world.payment_of[2]
        await world.bank_json("970418", payment, "RJCT", "AM04")
        await world.until_states({payment: "sent"})
        orders = [o["payload"] for o in await world.events("payments.orders", expect=7)
                  if o["type"] == "PaymentOrderIssued" and o["payload"]["payment_id"] == payment]
        assert [(o["attempt"], o["end_to_end_id"]) for o in orders] == [(1, payment), (2, f"{payment}-R02")]
        # The retry also went out as a pain.001 of its own, recorded like the run's parts: the bank rejects
        # that whole message at group level.
        [batch] = [o["payload"] for o in await world.events("payments.orders", expect=7)
                   if o["type"] == "PaymentBatchIssued" and f"<EndToEndId>{payment}-R02<" in o["payload"]["document"]]
        assert (batch["number_of_transactions"], batch["message_id"][:2]) == (1, "RT")
        await world.bank_json("970418", payment, "RJCT", "AM04")          # late: about attempt 1
        await world.bank_document("970418", pain002(batch["message_id"], group_status="RJCT", group_reason="AM04"))
        await world.until_states({payment: "returned"})
        events = await world.events("payments.events", expect=1)
        assert [(e["attempt"], e["next_step"]) for e in of_type(events, "PaymentRejected")] == [
            (1, "retry"), (2, "return")]
        assert [e["attempts"] for e in of_type(events, "PaymentReturned")] == [2]
        # Exactly one payment for the award and period, whatever happened to its attempts.
        rows = await world.fetch("SELECT count(*) AS n FROM payments WHERE award_id = 'AW-00000002'")
        assert rows[0]["n"] == 1


async def test_a_status_naming_an_attempt_never_sent_is_refused(isolated):
    async with status_world(isolated) as world:
        await world.bank_json("970418", f"{world.payment_of[2]}-R05", "ACSC")
        [(reason, _)] = await world.dead_letters("payments.bank-status", expect=1)
        assert "attempt of the payment that was never sent" in reason
