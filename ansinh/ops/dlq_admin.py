"""Operators' view of dead letters: list them with their reasons, and replay them after a fix.

Replaying republishes the original key and bytes to the source topic (with a ``dlq.replayed_from``
header). It is safe to replay anything: consumers deduplicate on the event id, so an event that was in
fact processed changes nothing the second time.
"""
from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition

from ansinh.runtime.outbox import new_producer


@dataclass(frozen=True)
class DeadLetter:
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, str]

    @property
    def reason(self) -> str:
        return self.headers.get("dlq.reason", "")

    @property
    def error_class(self) -> str:
        return self.headers.get("dlq.error_class", "")


async def read_dead_letters(bootstrap: str, dlq_topic: str, from_offset: int = 0, limit: int = 1000
                            ) -> list[DeadLetter]:
    """The DLQ's messages from ``from_offset`` (DLQ topics have one partition), oldest first."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        tp = TopicPartition(dlq_topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        consumer.seek(tp, from_offset)
        letters: list[DeadLetter] = []
        while len(letters) < limit and await consumer.position(tp) < end:
            for record in (await consumer.getmany(tp, timeout_ms=1000, max_records=limit - len(letters))).get(tp, []):
                # A sender's header may have a null value (Kafka allows it): shown empty, not a crash.
                headers = {k: (v or b"").decode(errors="replace") for k, v in record.headers or ()}
                letters.append(DeadLetter(record.offset, record.key, record.value, headers))
        return letters
    finally:
        await consumer.stop()


async def replay(bootstrap: str, dlq_topic: str, letters: list[DeadLetter]) -> int:
    """Republish ``letters`` to the topic they came from; returns how many."""
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        for letter in letters:
            source = letter.headers.get("dlq.source_topic") or dlq_topic.removesuffix(".dlq")
            await producer.send_and_wait(source, letter.value, key=letter.key,
                                         headers=[("dlq.replayed_from", f"{dlq_topic}@{letter.offset}".encode())])
        return len(letters)
    finally:
        await producer.stop()
