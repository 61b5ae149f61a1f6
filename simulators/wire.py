"""The simulators on Kafka: publish what they generated, and answer the payment service's orders.

Plain aiokafka clients of the public topics, as a bank's or a payroll vendor's integration would be; the topic
prefix (``prefix``) lets tests run them in a private world.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Callable, Iterable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.envelope import encode, new_envelope
from simulators import answers
from simulators.payroll import Sent

log = logging.getLogger("simulators")


async def publish(bootstrap: str, messages: Iterable[Sent], prefix: str = "",
                  progress: Callable[[int], None] | None = None) -> int:
    """Publish in order (per key, order is what the contracts rely on); returns how many were sent."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=20,
                                max_batch_size=256 * 1024, max_request_size=1_048_576)
    await producer.start()
    sent = 0
    try:
        pending = []
        for message in messages:
            pending.append(await producer.send(prefix + message.topic, message.value, key=message.key))
            sent += 1
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                if progress:
                    progress(len(pending))
                pending.clear()
        await asyncio.gather(*pending)
        if progress and pending:
            progress(len(pending))
    finally:
        await producer.stop()
    return sent


async def respond(bootstrap: str, inbound: str, outbound: str, answer: Callable[[dict], tuple[bytes, object] | None],
                  producer_name: str, stop: asyncio.Event, prefix: str = "", group: str | None = None) -> int:
    """Consume ``inbound`` and publish ``answer(payload)`` (key, message) on ``outbound`` until ``stop`` is set."""
    consumer = AIOKafkaConsumer(prefix + inbound, bootstrap_servers=bootstrap,
                                group_id=group or f"{prefix}simulator-{producer_name}",
                                auto_offset_reset="earliest", enable_auto_commit=False)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=10)
    await consumer.start()
    await producer.start()
    answered = 0
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            sends = []
            for records in batches.values():
                for record in records:
                    reply = _reply(record.value, answer)
                    if reply is not None:
                        key, message = reply
                        envelope = new_envelope(message, producer_name)
                        sends.append(await producer.send(prefix + outbound, encode(envelope), key=key))
            if sends:
                await asyncio.gather(*sends)
                answered += len(sends)
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
    return answered


def _reply(value: bytes | None, answer: Callable[[dict], tuple[bytes, object] | None]):
    try:
        envelope = json.loads(value or b"null")
        return answer(envelope) if isinstance(envelope, dict) else None
    except (ValueError, KeyError, TypeError):  # the payment service's bug, not ours to crash on: say so, go on
        log.warning("simulator could not read a message; skipped")
        return None


def bank(seed: int, rates: answers.Rates, bins: set[str] | None = None):
    """An answer function for ``payments.orders``: a pain.002 status per JSON payment order of our BINs."""
    def answer(envelope: dict):
        if envelope.get("type") != "PaymentOrderIssued":
            return None  # pain.001 batches carry the same payments; the JSON orders are answered
        order = envelope["payload"]
        if bins is not None and order["bank_bin"] not in bins:
            return None
        return order["bank_bin"].encode(), answers.bank_answer(order, seed, rates, datetime.now(timezone.utc))
    return answer


def post_office(seed: int, rates: answers.Rates):
    """An answer function for ``payments.cash-orders``: paid or unclaimed per cash order."""
    def answer(envelope: dict):
        if envelope.get("type") != "CashPaymentOrdered":
            return None
        order = envelope["payload"]
        return order["paying_office"].encode(), answers.cash_answer(order, seed, rates)
    return answer
