"""Review: a transfer that had already left when its beneficiary was reported deceased, and that the bank then
rejects, comes back to us: it must not be sent again (retry) nor moved to cash at a post office (reroute) for a
month from the death on. It is returned to the fund; and a rejected payment waiting for its retry when the
death is reported is stopped."""
from __future__ import annotations

from datetime import date

import pytest

from schemas import benefits
from tests.integration.payments.core_helpers import event, send_awards
from tests.integration.payments.status_world import status_world
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e["payload"] for e in events if e["type"] == kind]


async def _report_death(world, award: int) -> None:
    code = f"{award:010d}"
    await send_awards(world.isolated, event(benefits.BeneficiaryDeceased, beneficiary_code=code,
                                            date_of_death=date(2026, 1, 3)), key=code)

    async def recorded():
        return await world.fetch("SELECT 1 FROM beneficiaries WHERE beneficiary_code = $1", code)
    await eventually_async(recorded, 45, interval=0.3, until=bool, what=f"the death of {code} recorded")


async def test_a_transfer_rejected_after_the_beneficiary_died_is_returned_not_rerouted_nor_retried(isolated):
    async with status_world(isolated) as world:
        rerouted, retried = world.payment_of[7], world.payment_of[2]  # 7 once took cash at BC-77
        await _report_death(world, 7)
        await _report_death(world, 2)
        await world.bank_json("970415", rerouted, "RJCT", "BE01")  # account problem: would go to cash
        await world.bank_json("970418", retried, "RJCT", "AM04")   # other reason: would be sent again
        await world.until_states({rerouted: "returned", retried: "returned"})
        cash = [o["payload"]["payment_id"] for o in await world.events("payments.cash-orders", expect=2)]
        orders = [o["payload"] for o in await world.events("payments.orders", expect=6)
                  if o["type"] == "PaymentOrderIssued" and o["payload"]["payment_id"] == retried]
        events = await world.events("payments.events", expect=1)
        assert rerouted not in cash
        assert [o["attempt"] for o in orders] == [1]
        assert sorted(e["payment_id"] for e in of_type(events, "PaymentReturned")) == sorted([rerouted, retried])
        assert not of_type(events, "PaymentReroutedToCash")


async def test_a_rejected_transfer_waiting_for_its_retry_is_stopped_when_the_beneficiary_is_reported_dead(isolated):
    async with status_world(isolated) as world:
        payment = world.payment_of[2]
        # What a rejection (AM04) with an hour of backoff leaves (the world's backoff is 0, so it is written here).
        await world.fetch("UPDATE payments SET state = 'rejected', reason_code = 'AM04' WHERE payment_id = $1", payment)
        await world.fetch("INSERT INTO retries_due (payment_id, next_attempt, due_at, reason_code) "
                          "VALUES ($1, 2, now() + interval '1 hour', 'AM04')", payment)
        await _report_death(world, 2)
        await world.until_states({payment: "stopped"})
