"""Retries exhausted, then an operator's replay (HTTP and CLI, audited); the history and the failed list over
HTTP, behind their roles; the answers match the generated OpenAPI document's schemas."""
from __future__ import annotations

import json
import subprocess
import sys

import jsonschema
import pytest

from services.notifications.http import build_api
from tests.conftest import OPERATOR_TOKEN
from tests.integration.notifications.delivery_world import (
    READER_TOKEN, Row, admin, delivery_env, insert, metric, servers, until_states)

pytestmark = pytest.mark.integration
DOCUMENT = build_api(None).document()


def check_against_document(path: str, method: str, answer: dict) -> None:
    schema_ref = DOCUMENT["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.validate(answer, {**schema_ref, "components": DOCUMENT["components"]})


async def test_retries_exhausted_are_failed_listed_and_sent_again_on_replay(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway,
                                                                        ANSINH_DELIVERY_MAX_ATTEMPTS="3"))
        conn = await admin(isolated)
        try:
            gateway.script(503, 503, 503)
            [sms] = await insert(conn, Row("sms", "+84901234567"))
            rows = await until_states(conn, [sms], "failed")
            assert (rows[sms]["attempts"], rows[sms]["last_error"]) == (3, "http_503")
            assert metric(service, "notifications_failed_total", channel="sms", type="payment_sent",
                          reason="exhausted") == 1
            failed_key = gateway.requests[-1].key

            status, body = service.get("/notifications/failed")
            assert status == 200, body
            listed = json.loads(body)
            check_against_document("/notifications/failed", "get", listed)
            assert [(n["id"], n["state"], n["attempts"], n["last_error"]) for n in listed["notifications"]] == \
                [(sms, "failed", 3, "http_503")]
            assert "+84901234567" not in body.decode() and "0123456789" not in body.decode()

            status, body = service.request("POST", "/notifications/replay",
                                           {"ids": [sms, 999999], "reason": "gateway outage over"})
            assert status == 200, body
            assert json.loads(body) == {"replayed": [sms], "not_replayable": [999999]}
            rows = await until_states(conn, [sms], "sent")
            assert (rows[sms]["attempts"], rows[sms]["replays"]) == (1, 1)
            [delivered] = gateway.delivered("/sms")
            assert delivered.key != failed_key  # a new key: the gateway must not answer from its record
            audit = await conn.fetch("SELECT principal, action, reason, details FROM notifications.audit_log")
            assert [(a["principal"], a["action"], a["reason"]) for a in audit] == \
                [("test-operator", "notifications.replay", "gateway outage over")]
            assert json.loads(audit[0]["details"])["ids"] == [sms]

            status, body = service.request("POST", "/notifications/replay", {"ids": [sms], "reason": "again"})
            assert status == 409 and json.loads(body)["code"] == "nothing_to_replay"
        finally:
            await conn.close()


async def test_the_cli_replays_every_failed_notification_of_a_channel(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            gateway.refused.update({"+84000001", "+84000002"})
            sink.refuse("old@example.test", 550)
            ids = await insert(conn, Row("sms", "+84000001"), Row("sms", "+84000002"), Row("email", "old@example.test"))
            await until_states(conn, ids, "failed")
            gateway.refused.clear()  # the numbers were corrected at the gateway (say)

            env = isolated.env(ANSINH_OPERATOR_TOKEN=OPERATOR_TOKEN,
                               ANSINH_NOTIFICATIONS_URL=f"http://127.0.0.1:{service.port}")
            cli = [sys.executable, "-m", "ansinh.cli", "notifications"]
            listed = subprocess.run(cli + ["failed", "--channel", "sms"], env=env, capture_output=True, text=True,
                                    timeout=60)
            assert listed.returncode == 0, listed.stdout + listed.stderr
            assert "2 notifications to review" in listed.stdout and "http_400" in listed.stdout
            refused = subprocess.run(cli + ["replay", "--all-failed", "--channel", "sms"], env=env,
                                     capture_output=True, text=True, timeout=60)
            assert refused.returncode == 2 and "--reason" in refused.stdout  # no reason, no replay
            done = subprocess.run(cli + ["replay", "--all-failed", "--channel", "sms", "--reason", "numbers fixed"],
                                  env=env, capture_output=True, text=True, timeout=60)
            assert done.returncode == 0, done.stdout + done.stderr
            assert "replayed 2 notifications" in done.stdout
            rows = await until_states(conn, ids, {ids[0]: "sent", ids[1]: "sent", ids[2]: "failed"})
            assert rows[ids[2]]["replays"] == 0  # the e-mail was not of the channel asked for
            assert metric(service, "notifications_replayed_total", channel="sms") == 2
            history = subprocess.run(cli + ["history", "0123456789"], env=env, capture_output=True, text=True,
                                     timeout=60)
            assert history.returncode == 0, history.stdout + history.stderr
            assert "notifications of 0123456789" in history.stdout and history.stdout.count("payment_sent") == 3
        finally:
            await conn.close()


async def test_a_history_needs_both_roles_and_shows_what_the_participant_was_told(isolated):
    async with servers() as (sink, gateway):
        service = isolated.start_service("notifications", **delivery_env(sink, gateway))
        conn = await admin(isolated)
        try:
            first, second = Row("email", "lan@example.test", "0987654321"), Row("sms", "+84912345678", "0987654321")
            ids = await insert(conn, first, second, Row("sms", "+84900000000", "0000000001"))
            await until_states(conn, ids, "sent")
            status, body = service.get("/participants/0987654321/notifications")
            assert status == 200, body
            history = json.loads(body)
            check_against_document("/participants/{participant_code}/notifications", "get", history)
            assert sorted((n["channel"], n["state"], n["body"]) for n in history["notifications"]) == \
                [("email", "sent", first.body), ("sms", "sent", second.body)]
            assert service.get("/participants/0987654321/notifications", token=None)[0] == 401
            assert service.get("/participants/0987654321/notifications", token=READER_TOKEN)[0] == 403
            assert service.get("/notifications/failed", token=READER_TOKEN)[0] == 200
            assert service.request("POST", "/notifications/replay", {"all_failed": True, "reason": "x"},
                                   token=READER_TOKEN)[0] == 403
            assert service.get("/participants/09876/notifications")[0] == 400
        finally:
            await conn.close()
