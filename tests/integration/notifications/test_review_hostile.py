"""Fresh-eyes review: messages a participant registry or a careless producer could put on the public topics,
published with kcat (a client that is not the project's own), never stop the service, never leak the personal
data they carry into a DLQ reason, and a good message after them is still told."""
from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timezone

import asyncpg
import pytest

from tests.integration.notifications.core_world import CORE_ENV, contact, envelope, rows
from tests.integration.notifications.test_triggers_flow import payment_sent
from tests.kafka_helpers import header, read_topic
from tests.waiting import eventually_async

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat is not installed")]
CODE = "0123456789"  # payment_sent()'s beneficiary
PHONE, EMAIL = "0901234567", "an nguyen@example.vn"  # a local phone (not E.164) and an address with a space


def kcat(bootstrap: str, topic: str, lines: list[bytes], null_empty: bool = False) -> None:
    """Produce ``key<TAB>value`` lines; with ``null_empty``, an empty value is a tombstone (NULL)."""
    args = ["kcat", "-P", "-b", bootstrap, "-t", topic, "-K", "\t", "-D", "\n"] + (["-Z"] if null_empty else [])
    subprocess.run(args, input=b"\n".join(lines) + b"\n", check=True, timeout=60)


async def test_hostile_contacts_and_events_from_another_client_are_dead_lettered_without_personal_data(isolated):
    service = isolated.start_service("notifications", **CORE_ENV)
    contacts, events = isolated.topic("participants.contacts"), isolated.topic("payments.events")
    wrong = json.loads(contact(CODE, datetime.now(timezone.utc), phone="+84901234567"))
    wrong["payload"].update(phone=PHONE, email=EMAIL)
    huge = json.loads(contact(CODE))
    huge["payload"]["app_token"] = "x" * 500_000
    kcat(isolated.bootstrap, contacts, [
        CODE.encode() + b"\t",                                   # a tombstone: erases (nothing yet), not dead
        CODE.encode() + b"\t" + json.dumps(wrong, ensure_ascii=False).encode(),
        CODE.encode() + b"\t" + json.dumps(huge).encode(),
        CODE.encode() + b"\t\xff\xfe not utf-8",
    ], null_empty=True)
    unknown = json.loads(envelope(payment_sent()))
    unknown["type"] = "PaymentTeleported"
    kcat(isolated.bootstrap, events, [
        CODE.encode() + b"\t" + json.dumps(unknown).encode(),
        b"9999999999\t" + envelope(payment_sent("P-unknown", "9999999999")),  # nobody we know: counted, no row
    ])
    dead = await read_topic(isolated.bootstrap, contacts + ".dlq", expect=3)
    reasons = [header(r, "dlq.reason") or "" for r in dead]
    assert all(reasons), reasons
    assert not [r for r in reasons if PHONE in r or EMAIL in r or "an nguyen" in r], reasons
    [teleported] = await read_topic(isolated.bootstrap, events + ".dlq", expect=1)
    assert "PaymentTeleported" in header(teleported, "dlq.reason")

    # After all that, a good contact and a payment are still told.
    kcat(isolated.bootstrap, contacts, [CODE.encode() + b"\t" + contact(CODE, phone="+84901234567")])
    await isolated.wait_until_idle("notifications")
    kcat(isolated.bootstrap, events, [CODE.encode() + b"\t" + envelope(payment_sent("P-good"))])
    conn = await asyncpg.connect(isolated.service("notifications").service_database_url)
    try:
        found = await eventually_async(lambda: rows(conn, CODE), 30, what="the good payment's notification")
    finally:
        await conn.close()
    assert [(r["channel"], r["type"]) for r in found] == [("sms", "payment_sent")]
    status, _ = service.get("/ready")
    assert status == 200
    with open(service.log_path, "rb") as log:
        logged = log.read().decode("utf-8", "replace")
    assert "dlq" in logged.lower() or "dead" in logged.lower(), logged[-2000:]  # the log did see them
    assert PHONE not in logged and EMAIL not in logged, "personal data in the service log"
