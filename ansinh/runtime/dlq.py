"""Dead-letter routing: the original key and bytes go to ``<topic>.dlq`` with headers saying why."""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from ansinh.runtime.metrics import CONSUMED, DLQ_MESSAGES

log = logging.getLogger("ansinh.runtime.dlq")
MAX_REASON = 2000


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

    async def route(self, message: RawMessage, reason: str, error_class: str) -> None:
        """Publish to the DLQ and wait for the broker's acknowledgement before the offset may move on."""
        headers = list(message.headers) + [
            ("dlq.reason", reason[:MAX_REASON].encode()),
            ("dlq.error_class", error_class.encode()),
            ("dlq.source_topic", message.topic.encode()),
            ("dlq.source_partition", str(message.partition).encode()),
            ("dlq.source_offset", str(message.offset).encode()),
            ("dlq.service", self.service.encode()),
            ("dlq.failed_at", datetime.now(timezone.utc).isoformat().encode()),
        ]
        backoff = 0.2
        while True:  # the offset must not move on until the dead letter is safely on the broker
            try:
                await self.producer.send_and_wait(f"{message.topic}.dlq", message.value, key=message.key,
                                                  headers=headers)
                break
            except (KafkaError, OSError) as exc:
                log.warning("cannot write to %s.dlq yet (%r); retrying in %.1fs", message.topic, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
        DLQ_MESSAGES.labels(self.service, self.logical_topic, error_class).inc()
        CONSUMED.labels(self.service, self.logical_topic, "dead_lettered").inc()
        log.warning("dead-lettered %s[%d]@%d: %s: %s", message.topic, message.partition, message.offset,
                    error_class, reason[:300])
