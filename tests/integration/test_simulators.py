"""The bank and paying-office simulators answer the payment service's orders over the real broker."""
from __future__ import annotations

import asyncio
import json
from datetime import date

from schemas.envelope import encode, new_envelope
from schemas.payments import CashPaymentOrdered, PaymentOrderIssued
from simulators import answers, wire
from simulators.payroll import Sent
from tests.kafka_helpers import read_topic


def order(number: int, bank_bin: str) -> Sent:
    message = PaymentOrderIssued(payment_id=f"PAY-{number}", end_to_end_id=f"E2E{number}", award_id=f"AW-{number}",
                                 period="2026-01", attempt=1, amount=3_500_000, creditor_name="Trần Thị Lan",
                                 bank_bin=bank_bin, account_number=f"{10**9 + number}",
                                 requested_execution_date=date(2026, 1, 2))
    return Sent("payments.orders", bank_bin.encode(), encode(new_envelope(message, "payments")))


def cash(number: int) -> Sent:
    message = CashPaymentOrdered(payment_id=f"CASH-{number}", award_id=f"AW-{number}", period="2026-01",
                                 amount=2_000_000, beneficiary_code=f"{10**9 + number}", beneficiary_name="Lê Văn Nam",
                                 citizen_id="001062123456", paying_office="BD-HN-001", home_delivery=False,
                                 pay_from=date(2026, 1, 11), pay_until=date(2026, 1, 25))
    return Sent("payments.cash-orders", b"BD-HN-001", encode(new_envelope(message, "payments")))


async def test_a_bank_answers_each_json_order_of_its_bins_once_and_the_post_office_each_cash_order(isolated):
    bootstrap, prefix = isolated.bootstrap, isolated.prefix
    await wire.publish(bootstrap, [order(n, "970436") for n in range(5)] + [order(9, "970415")]
                       + [cash(n) for n in range(3)], prefix)
    stop = asyncio.Event()
    bank = asyncio.create_task(wire.respond(bootstrap, "payments.orders", "payments.bank-status",
                                            wire.bank(1, answers.Rates(), bins={"970436"}), "bank-970436", stop,
                                            prefix))
    post = asyncio.create_task(wire.respond(bootstrap, "payments.cash-orders", "payments.cash-status",
                                            wire.post_office(1, answers.Rates(never_collects=0, misses_a_month=0)),
                                            "vnpost", stop, prefix))
    statuses = await read_topic(bootstrap, prefix + "payments.bank-status", expect=5)
    reports = await read_topic(bootstrap, prefix + "payments.cash-status", expect=3)
    stop.set()
    assert await bank == 5 and await post == 3
    answered = sorted(json.loads(r.value)["payload"]["end_to_end_id"] for r in statuses)
    assert answered == [f"E2E{n}" for n in range(5)] and {r.key for r in statuses} == {b"970436"}
    assert {json.loads(r.value)["payload"]["outcome"] for r in reports} == {"paid"}
