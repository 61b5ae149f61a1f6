"""Dead-letter routing: the original key and bytes go to ``<topic>.dlq`` with headers saying why.

Headers: ``dlq.reason`` (what is wrong, never a value of the message), ``dlq.error_class``, ``dlq.stage``
(decode, prepare, transaction), ``dlq.source_topic``, ``dlq.source_partition``, ``dlq.source_offset``,
``dlq.service``, ``dlq.failed_at``, after the sender's own headers (a key that is not UTF-8 escaped).
The write is retried (one policy, ``ansinh.runtime.retry``) until the broker acknowledges it, and only
then may the source offset move on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError

from ansinh.runtime.kafka_records import printable_key
from ansinh.runtime.metrics import CONSUMED, DLQ_MESSAGES
from ansinh.runtime.retry import retry_transient

log = logging.getLogger("ansinh.runtime.dlq")
MAX_REASON = 2000
STAGES = ("decode", "prepare", "transaction")


@dataclass(frozen=True)
class RawMessage:
    """A consumed Kafka record, as received (physical topic name, bytes untouched)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = field(default=())


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, service: str, logical_topic: str):
        self.producer, self.service, self.logical_topic = producer, service, logical_topic

    async def route(self, message: RawMessage, reason: str, error_class: str, stage: str = "transaction") -> None:
        """Publish to the DLQ and wait for the broker's acknowledgement before the offset may move on."""
        # The sender's headers as they came, except a key that is not UTF-8: a producer cannot write it,
        # so it is written with \xNN escapes (``kafka_records.printable_key``).
        headers = [(printable_key(k), v) for k, v in message.headers] + [
            ("dlq.reason", reason[:MAX_REASON].encode()),
            ("dlq.error_class", error_class.encode()),
            ("dlq.stage", stage.encode()),
            ("dlq.source_topic", message.topic.encode()),
            ("dlq.source_partition", str(message.partition).encode()),
            ("dlq.source_offset", str(message.offset).encode()),
            ("dlq.service", self.service.encode()),
            ("dlq.failed_at", datetime.now(timezone.utc).isoformat().encode()),
        ]
        # A broker refusal that is not transient (authorization, no such DLQ topic) is ours to fix: hold.
        await retry_transient("dlq", self.service, self.logical_topic, self._send, message, headers,
                              retry_on="not-the-message")
        DLQ_MESSAGES.labels(self.service, self.logical_topic, error_class, stage).inc()
        CONSUMED.labels(self.service, self.logical_topic, "dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d at %s: %s: %s", message.topic, message.partition, message.offset,
                    stage, error_class, reason[:300])

    async def _send(self, message: RawMessage, headers: list[tuple[str, bytes]]) -> None:
        dlq = f"{message.topic}.dlq"
        try:
            await self.producer.send_and_wait(dlq, message.value, key=message.key, headers=headers)
        except MessageSizeTooLargeError:
            # The record was near the size limit and our headers pushed it over: keep the reason and the
            # coordinates (the original stays readable at its offset until the source topic's retention).
            # The sender's own headers go too: they alone can be what makes the record too large.
            ours = [(k, v) for k, v in headers[len(message.headers):]]
            ours.append(("dlq.value_omitted", b"too large with the dlq headers; read it at the source offset"))
            await self.producer.send_and_wait(dlq, None, key=message.key if len(message.key or b"") < 4096 else None,
                                              headers=ours)
