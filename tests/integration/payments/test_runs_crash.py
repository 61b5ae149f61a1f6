"""A crash half-way: kill -9 the service while it prepares a run, then prepare again; crash it (failpoint)
while it sends, then start it again. Each payment exists once and each order reaches Kafka with one event id."""
from __future__ import annotations

import json
import re
import signal

import pytest

from ansinh.runtime.failpoints import EXIT_CODE
from tests.integration.payments.core_helpers import API_TOKENS, call, seed, sql, wait_for_state
from tests.kafka_helpers import read_topic
from tests.waiting import eventually_async

pytestmark = pytest.mark.timeout(400)
COUNT = 20_000


async def test_kill_9_while_preparing_then_preparing_again_creates_each_payment_once(isolated):
    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_RUN_CHUNK="250")
    await seed(isolated, COUNT, cash_every=5)
    status, view = call(service, "POST", "/runs/2026-01/prepare", "maker", {"reason": "January"})
    assert status == 202, view

    async def some_chunks_done():
        rows = await sql(isolated, "SELECT state, entitlements FROM payments.runs")
        return rows[0]["state"], rows[0]["entitlements"]
    state, examined = await eventually_async(some_chunks_done, 60, interval=0.05,
                                             until=lambda r: r[1] >= 1000, what="a few chunks prepared")
    service.proc.send_signal(signal.SIGKILL)
    service.proc.wait(10)
    half = (await sql(isolated, "SELECT count(*) AS n FROM payments.payments"))[0]["n"]
    state = (await sql(isolated, "SELECT state FROM payments.runs"))[0]["state"]
    assert state == "preparing" and 0 < half < COUNT, (state, half)  # really half-way

    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_RUN_CHUNK="250")
    status, view = call(service, "POST", "/runs/2026-01/prepare", "maker", {"reason": "January, after the crash"})
    assert status == 202, view
    prepared = wait_for_state(service, "2026-01", {"prepared"})
    per_award = await sql(isolated, "SELECT count(*) AS payments, count(DISTINCT award_id) AS awards "
                                    "FROM payments.payments")
    assert (per_award[0]["payments"], per_award[0]["awards"], prepared["payments"]) == (COUNT, COUNT, COUNT)


async def test_a_crash_while_sending_resumes_at_restart_and_sends_each_order_once(isolated):
    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_RUN_CHUNK="500",
                                     ANSINH_FAILPOINTS="payments.send.after_chunk")
    await seed(isolated, 3000, cash_every=3)
    call(service, "POST", "/runs/2026-01/prepare", "maker", {"reason": "January"})
    wait_for_state(service, "2026-01", {"prepared"})
    status, view = call(service, "POST", "/runs/2026-01/approve", "checker", {"reason": "checked"})
    assert status == 200, view
    assert service.proc.wait(30) == EXIT_CODE  # crashed after the first chunk was committed
    sent = await sql(isolated, "SELECT state, count(*) AS n FROM payments.payments GROUP BY state ORDER BY state")
    # (approval is recorded on the run: the payments not sent yet are still 'created' rows of an approved run)
    assert {r["state"]: r["n"] for r in sent} == {"created": 2500, "sent": 500}

    service = isolated.start_service("payments", ANSINH_API_TOKENS=API_TOKENS, ANSINH_RUN_CHUNK="500")
    wait_for_state(service, "2026-01", {"sent"})  # nobody asked: the restart resumed the sending
    await read_topic(isolated.bootstrap, isolated.topic("payments.orders"), 2000)
    await isolated.wait_until_idle("payments")
    orders = await read_topic(isolated.bootstrap, isolated.topic("payments.orders"), 2000)
    cash = await read_topic(isolated.bootstrap, isolated.topic("payments.cash-orders"), 1000)
    events = {}
    batches = [r for r in orders if json.loads(r.value)["type"] == "PaymentBatchIssued"]
    # every bank payment in exactly one pain.001 part (the chunk sent before the crash was batched at restart);
    # a part re-sent by the relay keeps its message id
    documents = {json.loads(r.value)["payload"]["message_id"]: json.loads(r.value)["payload"]["document"]
                 for r in batches}
    carried = [e2e for d in documents.values() for e2e in re.findall(r"<EndToEndId>([^<]+)</EndToEndId>", d)]
    bank_orders = [json.loads(r.value)["payload"]["payment_id"] for r in orders if r not in batches]
    assert sorted(carried) == sorted(set(bank_orders)) and len(set(bank_orders)) == 2000
    for r in [r for r in orders if r not in batches] + cash:
        envelope = json.loads(r.value)
        events.setdefault(envelope["payload"]["payment_id"], set()).add(envelope["event_id"])
    # A record re-sent after the crash carries the same event id (at-least-once delivery, deduplicated by
    # consumers); what must hold is one order, with one event id, per payment.
    assert len(events) == 3000 and all(len(ids) == 1 for ids in events.values())
    print(f"records: {len(orders) + len(cash)} (batches: {len(batches)}) for 3000 payments")
