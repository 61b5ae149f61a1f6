"""Fresh-eyes review of delivery, as a participant and an operator meet it: what the contracts and the docs
promise against what the running service does (real SMTP server, local gateway, Kafka and PostgreSQL)."""
from __future__ import annotations

import pytest

from tests.integration.notifications.delivery_world import (
    Row, admin, delivery_env, insert, servers, until_states)
from tests.waiting import eventually_async

pytestmark = pytest.mark.integration


async def test_a_replayed_uncertain_email_carries_the_message_id_of_the_first_send(isolated):
    # docs/notifications.md: an uncertain e-mail is replayed by an operator, and "the replay carries the same
    # Message-ID, which mail clients that collapse duplicates use".
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            [mail] = await insert(conn, Row("email", "an.nguyen@example.test"))
            await until_states(conn, [mail], "sent")
            # What crash recovery leaves for an e-mail that was in flight (the relay had in fact taken it).
            await conn.execute("UPDATE notifications.notifications SET state = 'uncertain' WHERE id = $1", mail)
            status, body = service.request("POST", "/notifications/replay",
                                           {"ids": [mail], "reason": "participant says it did not arrive"})
            assert status == 200, body
            await until_states(conn, [mail], "sent")
            first, again = await eventually_async(lambda: _two(sink.to("an.nguyen@example.test")), 30,
                                                  what="the e-mail received twice")
        finally:
            await conn.close()
    assert first.message["Message-ID"] == again.message["Message-ID"]


def _two(mails):
    assert len(mails) == 2, mails
    return mails
