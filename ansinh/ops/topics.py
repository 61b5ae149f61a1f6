"""Create the catalogue's topics (and their DLQ twins) explicitly and idempotently."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, TopicAlreadyExistsError

from ansinh.runtime.retry import retry_transient
from schemas.topics import CATALOGUE, DLQ_RETENTION_MS

TOPIC_ALREADY_EXISTS = 36
# One partition per DLQ: dead letters are rare, and operators read them in the order they arrived.
DLQ_PARTITIONS = 1
DLQ_CONFIG = {"retention.ms": str(DLQ_RETENTION_MS)}


@dataclass(frozen=True)
class PhysicalTopic:
    name: str
    partitions: int
    config: dict[str, str]


def planned(prefix: str = "") -> list[PhysicalTopic]:
    topics = []
    for spec in CATALOGUE:
        topics.append(PhysicalTopic(prefix + spec.name, spec.partitions, dict(spec.config)))
        if spec.dlq:
            topics.append(PhysicalTopic(prefix + spec.dlq, DLQ_PARTITIONS, dict(DLQ_CONFIG)))
    return topics


async def admin_client(bootstrap: str, give_up_after_s: float = 30.0) -> AIOKafkaAdminClient:
    """An admin client, retrying (the runtime's one policy) while the broker finishes starting."""
    async def connect() -> AIOKafkaAdminClient:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10000)
        try:
            await admin.start()
            await admin.list_topics()
            return admin
        except BaseException:
            await admin.close()
            raise
    try:
        return await retry_transient("topics admin", "ops", bootstrap, connect, give_up_after_s=give_up_after_s)
    except (KafkaConnectionError, OSError) as exc:
        raise KafkaConnectionError(f"Kafka at {bootstrap} does not answer") from exc


async def ensure_topics(bootstrap: str, prefix: str = "") -> list[str]:
    """Create missing topics; returns the names created (empty when all existed)."""
    admin = await admin_client(bootstrap)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in planned(prefix) if t.name not in existing]
        if missing:
            try:
                response = await admin.create_topics([NewTopic(t.name, t.partitions, 1, topic_configs=t.config)
                                                      for t in missing])
            except TopicAlreadyExistsError:
                return []  # a concurrent creator won the race; the topics exist, which is all we need
            failed = [(name, code, msg) for name, code, msg in response.topic_errors
                      if code not in (0, TOPIC_ALREADY_EXISTS)]
            if failed:
                raise RuntimeError(f"could not create topics: {failed}")
            await _wait_visible(admin, {t.name for t in missing})
        return [t.name for t in missing]
    finally:
        await admin.close()


async def _wait_visible(admin: AIOKafkaAdminClient, names: set[str], timeout: float = 30) -> None:
    """Creation is acknowledged before every broker's metadata shows it; wait until it does."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if names <= set(await admin.list_topics()):
            return
        await asyncio.sleep(0.1)
    raise TimeoutError(f"topics not visible after {timeout}s: {sorted(names - set(await admin.list_topics()))}")


async def list_topics(bootstrap: str) -> list[str]:
    admin = await admin_client(bootstrap)
    try:
        return sorted(await admin.list_topics())
    finally:
        await admin.close()
