"""Two replicas of the service: one dispatcher sends (the advisory lock), nothing goes twice; when it is
killed, the other takes over."""
from __future__ import annotations

from collections import Counter

import pytest

from tests.integration.notifications.delivery_world import (
    Row, admin, delivery_env, insert, metric, servers, until_states)
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_two_replicas_send_each_notification_once_and_the_survivor_takes_over(isolated):
    async with servers() as (sink, gateway):
        first = isolated.start_service("notifications", **delivery_env(sink, gateway))
        second = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            ids = await insert(conn, *(Row("sms", f"+8490{i:07d}", f"{i:010d}") for i in range(300)))
            await until_states(conn, ids, "sent", timeout=60)
            assert len(gateway.delivered("/sms")) == 300
            assert max(Counter(r.key for r in gateway.requests).values()) == 1  # no key sent twice
            active = eventually(lambda: [s for s in (first, second)
                                         if metric(s, "notifications_dispatcher_active") == 1], 20,
                                until=lambda found: len(found) == 1, what="exactly one active dispatcher")
            [holder] = active
            survivor = second if holder is first else first
            holder.proc.kill()
            holder.proc.wait(10)
            later = await insert(conn, *(Row("sms", f"+8491{i:07d}", f"{i:010d}") for i in range(100)))
            await until_states(conn, later, "sent", timeout=60)
            assert metric(survivor, "notifications_dispatcher_active") == 1
            assert len(gateway.delivered("/sms")) == 400
            assert max(Counter(r.key for r in gateway.requests).values()) == 1
        finally:
            await conn.close()
