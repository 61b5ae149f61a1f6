"""Reconciliation through the service: per run and per bank batch, a mismatch reported and counted."""
from __future__ import annotations

import json

import pytest

from tests.integration.payments.status_world import status_world
from tests.unit.payments.pain002_documents import pain002
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration


def metric(service, line_start: str) -> float | None:
    status, body = service.get("/metrics", token=None)
    for line in body.decode().splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_every_bank_batch_of_a_run_is_reconciled_with_its_outstanding_payments(isolated):
    async with status_world(isolated) as world:
        pay = world.payment_of
        await world.bank_document("970415", pain002(world.message_of["970415"], transactions=[
            (pay[1], "ACSC", None), (pay[7], "ACTC", None)]))
        await world.until_states({pay[1]: "settled", pay[7]: "accepted"})
        status, body = world.get("/runs/2026-01/batches", reader="reader")
        assert status == 200
        by_bank = {b["bank_bin"]: b["reconciliation"] for b in body["batches"]}
        assert set(by_bank) == {"970415", "970418", "970436"}
        assert all(r["adds_up"] for r in by_bank.values())
        assert (by_bank["970415"]["settled"]["count"], by_bank["970415"]["outstanding"]["count"]) == (1, 1)
        assert by_bank["970436"]["outstanding"] == by_bank["970436"]["sent"]
        assert metric(world.service, 'payments_reconciliation_mismatches_total{scope="batch"}') in (None, 0.0)


async def test_a_batch_that_does_not_add_up_is_reported_and_counted(isolated):
    async with status_world(isolated) as world:
        message_id = world.message_of["970436"]
        async with world.pool.acquire() as conn:  # as if a part's record and its items disagreed
            await conn.execute("UPDATE bank_batches SET control_sum = control_sum + 1 WHERE message_id = $1",
                               message_id)
        status, body = world.get(f"/batches/{message_id}", reader="reader")
        assert status == 200 and not body["reconciliation"]["adds_up"]
        [mismatch] = body["reconciliation"]["mismatches"]
        assert mismatch.startswith("declared 2 payments,")
        assert metric(world.service, 'payments_reconciliation_mismatches_total{scope="batch"}') == 1.0
        assert world.get("/batches/NEVER-SENT", reader="reader")[0] == 404


async def test_a_run_past_its_execution_date_and_not_sent_shows_in_the_late_runs_gauge(isolated):
    async with status_world(isolated, ANSINH_PAYMENTS_WATCH_INTERVAL_S="0.3") as world:
        # January's run is sent; the business date is 2026-02-05.
        await eventually_async(lambda: metric(world.service, "payments_runs_late "), until=lambda v: v == 0.0,
                               what="no late run while January is sent")
        async with world.pool.acquire() as conn:  # February prepared but never approved, its month begun
            await conn.execute("INSERT INTO runs (period, state, correlation_id) "
                               "VALUES ('2026-02-01', 'prepared', gen_random_uuid())")
        await eventually_async(lambda: metric(world.service, "payments_runs_late "), until=lambda v: v == 1.0,
                               what="February's run counted late")


async def test_the_bank_side_views_are_in_the_served_openapi_document_with_their_roles(isolated):
    async with status_world(isolated) as world:
        status, body = world.service.get("/openapi.json", token=None)
        document = json.loads(body)
        assert status == 200
        for path in ("/runs/{period}/reconciliation", "/runs/{period}/batches", "/batches/{message_id}", "/flags",
                     "/flags/{flag_id}/review"):
            assert path in document["paths"], path
        assert world.get("/runs/2026-01/reconciliation", reader="reader")[0] == 200
        assert world.service.get("/runs/2026-01/reconciliation", token=None)[0] == 401
        assert world.get("/runs/2026-13/reconciliation", reader="reader")[0] == 400
