"""A handler for service skeletons: record each new event in ``parked_events``, with its inbox row.

Used until a service implements the real handler; the parked events are then replayed, so a skeleton
running in production loses nothing it consumed.
"""
from __future__ import annotations

from typing import Awaitable, Callable, Sequence

import asyncpg

from ansinh.runtime import inbox
from ansinh.runtime.decoding import Incoming


def park_events(pool_of: Callable[[], asyncpg.Pool], schema: str, consumer: str,
                topic: str) -> Callable[[Sequence[Incoming]], Awaitable[None]]:
    async def handle(batch: Sequence[Incoming]) -> None:
        async with pool_of().acquire() as conn, conn.transaction():
            new = await inbox.claim(conn, schema, consumer, [i.envelope.event_id for i in batch],
                                     [i.digest for i in batch])
            rows = [(i.envelope.event_id, topic, i.envelope.type, i.raw.value.decode())
                    for i in batch if i.envelope.event_id in new]
            new.clear()
            await conn.executemany(f"INSERT INTO {schema}.parked_events (event_id, topic, type, envelope) "
                                   "VALUES ($1, $2, $3, $4::jsonb) ON CONFLICT DO NOTHING", rows)

    return handle


def skeleton(settings, topics: tuple[str, ...]):
    """A service skeleton: the faust app and runtime, consuming ``topics`` and parking their events."""
    from ansinh.runtime.service import ServiceRuntime, build_app, consume

    runtime = ServiceRuntime(settings)
    app = build_app(settings, runtime)
    for topic in topics:
        consume(app, runtime, topic, park_events(lambda: runtime.pool, settings.schema, settings.service, topic))
    return app, runtime
