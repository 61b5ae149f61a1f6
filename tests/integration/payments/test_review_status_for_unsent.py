"""Review: a bank status (or a paying office's report) about a payment that never left (stopped when its
beneficiary was reported deceased before the run went out) names a payment this service never sent: it goes to
the DLQ with its reason, like a status for an unknown payment. It was taken in silence as a 'late' report."""
from __future__ import annotations

import pytest

from tests.integration.payments.status_world import status_world

pytestmark = pytest.mark.integration


async def test_a_status_for_a_payment_stopped_before_it_left_goes_to_the_dlq(isolated):
    async with status_world(isolated) as world:
        stopped, cash = world.payment_of[3], world.payment_of[8]
        # What a death reported before sending leaves: the payment stopped, never sent.
        await world.fetch("UPDATE payments SET state = 'stopped', sent_at = NULL WHERE payment_id = ANY($1)",
                          [stopped, cash])
        await world.bank_json("970436", stopped, "ACSC")
        [(cash_office,)] = await world.fetch("SELECT paying_office FROM payments WHERE payment_id = $1", cash)
        await world.cash(cash, cash_office, "paid")
        [(bank_reason, _)] = await world.dead_letters("payments.bank-status", expect=1)
        [(cash_reason, _)] = await world.dead_letters("payments.cash-status", expect=1)
        assert "never sent" in bank_reason and "never" in cash_reason
        assert (await world.states())[stopped] == "stopped"
