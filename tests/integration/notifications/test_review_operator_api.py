"""Fresh-eyes review of the operators' HTTP views: an operator's mistake is refused as an invalid request (400,
naming the field), never an internal error."""
from __future__ import annotations

import json

import pytest

from tests.integration.notifications.delivery_world import delivery_env, servers

pytestmark = pytest.mark.integration


async def test_a_replay_naming_an_id_beyond_any_notification_id_is_refused_as_invalid(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        # A notification id is a bigint; a pasted number one digit too long does not fit one.
        status, body = service.request("POST", "/notifications/replay",
                                       {"ids": [99_999_999_999_999_999_999], "reason": "typo in the id"})
    assert status == 400, body
    assert "ids" in json.dumps(json.loads(body)["problems"])
