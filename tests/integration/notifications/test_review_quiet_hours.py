"""Fresh-eyes review: SMS quiet hours as the contract states them, through the running service (Kafka for the
contact, PostgreSQL, the local gateway)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.notifications.domain.delivery import BUSINESS_TZ
from tests.integration.notifications.core_world import contact, send
from tests.integration.notifications.delivery_world import Row, admin, delivery_env, insert, servers, until_states

pytestmark = pytest.mark.integration


async def test_a_participant_who_set_equal_quiet_hours_gets_sms_at_night(isolated):
    # schemas/benefits.py QuietHours: "Equal times mean no quiet hours". The service's default (21:00-07:00)
    # is for participants who said nothing, not for one who said "none".
    clock = datetime.combine(datetime.now(BUSINESS_TZ).date() + timedelta(days=1), datetime.min.time(),
                             tzinfo=BUSINESS_TZ).replace(hour=23)  # tomorrow 23:00: every row inserted now is due
    async with servers() as (sink, gateway):
        isolated.start_service("notifications", **delivery_env(sink, gateway, ANSINH_DELIVERY_CLOCK=clock.isoformat(),
                                                               ANSINH_SMS_QUIET_HOURS="21:00-07:00"))
        conn = await admin(isolated)
        try:
            code = "1000000009"
            await send(isolated, "participants.contacts", code,
                       contact(code, datetime.now(timezone.utc), phone="+84901000009", channels=["sms"],
                               sms_quiet_hours={"start": "00:00", "end": "00:00"}))
            await isolated.wait_until_idle("notifications")
            [sms] = await insert(conn, Row("sms", "+84901000009", code))
            await until_states(conn, [sms], "sent")
        finally:
            await conn.close()
    assert [r.body["to"] for r in gateway.delivered("/sms")] == ["+84901000009"]
