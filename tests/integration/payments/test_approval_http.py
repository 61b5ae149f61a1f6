"""Maker-checker through the service's HTTP API and the real broker: a prepared run sends nothing; its preparer
cannot approve it (403, with why); a second operator with the approver role can, and then every payment's
order reaches Kafka once; both decisions are audited."""
from __future__ import annotations

import json

import pytest

from tests.integration.payments.core_helpers import API_TOKENS, call, seed, sql, wait_for_state
from tests.kafka_helpers import read_topic

pytestmark = pytest.mark.timeout(300)


async def test_a_run_goes_out_only_after_a_second_operator_approves_it(isolated):
    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_RUN_CHUNK="150")
    await seed(isolated, 1000)
    status, view = call(service, "POST", "/runs/2026-01/prepare", "clerk", {"reason": "January pensions"})
    assert status == 202, view
    prepared = wait_for_state(service, "2026-01", {"prepared"})
    assert prepared["payments"] == 1000 and prepared["summary"]["by_channel"]["cash"]["count"] == 250

    # The clerk holds both roles, but prepared this run: refused, with the reason.
    status, refused = call(service, "POST", "/runs/2026-01/approve", "clerk", {"reason": "my own run"})
    assert status == 403 and refused["code"] == "preparer_cannot_approve", refused
    assert "maker-checker" in refused["error"]
    status, refused = call(service, "POST", "/runs/2026-01/approve", "maker", {"reason": "x"})
    assert status == 403 and "payments:approve" in refused["error"]  # a token without the approver role
    status, refused = call(service, "POST", "/runs/2026-01/approve", "checker", {})
    assert status == 400  # an approval must say why

    await isolated.wait_until_idle("payments")
    unapproved = await read_topic(isolated.bootstrap, isolated.topic("payments.orders"), 0, timeout=3)
    assert unapproved == [] and [r["state"] for r in await sql(isolated, "SELECT DISTINCT state FROM payments.payments")] == ["created"]

    status, approved = call(service, "POST", "/runs/2026-01/approve", "checker",
                            {"reason": "matches the budget", "expected_payments": 1000,
                             "expected_amount": prepared["amount"]})
    assert status == 200 and approved["approved_by"] == "checker", approved
    sent = wait_for_state(service, "2026-01", {"sent"})
    assert sent["sent"] == 1000
    orders = await read_topic(isolated.bootstrap, isolated.topic("payments.orders"), 750)
    cash = await read_topic(isolated.bootstrap, isolated.topic("payments.cash-orders"), 250)
    await isolated.wait_until_idle("payments")
    orders = await read_topic(isolated.bootstrap, isolated.topic("payments.orders"), 750)
    batches = [r for r in orders if json.loads(r.value)["type"] == "PaymentBatchIssued"]
    orders = [r for r in orders if r not in batches]
    ids = [json.loads(r.value)["payload"]["payment_id"] for r in orders + cash]
    assert len(ids) == len(set(ids)) == 1000
    assert sum(json.loads(r.value)["payload"]["number_of_transactions"] for r in batches) == 750
    assert all(r.key.decode() == json.loads(r.value)["payload"]["bank_bin"] for r in orders + batches)
    assert all(r.key.decode() == json.loads(r.value)["payload"]["paying_office"] for r in cash)
    audit = [(r["principal"], r["action"], r["reason"]) for r in
             await sql(isolated, "SELECT * FROM payments.audit_log ORDER BY id")]
    assert audit == [("clerk", "payments.prepare", "January pensions"),
                     ("checker", "payments.approve", "matches the budget")]

    status, history = call(service, "GET", "/beneficiaries/0000000004/payments", "checker")
    assert status == 200 and [p["state"] for p in history["payments"]] == ["sent"], history
    status, _ = call(service, "GET", "/beneficiaries/0000000004/payments", "maker")
    assert status == 403  # payment history is personal data
