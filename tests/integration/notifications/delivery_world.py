"""What the delivery tests share: the local SMTP server and gateway, the service's delivery settings, rows
inserted straight into the notifications table (as the core inserts them), and reading them back."""
from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

import asyncpg

from tests.conftest import OPERATOR_TOKEN, Isolated, RunningService
from ansinh.devplatform.mailbox import Gateway, SmtpSink
from tests.waiting import eventually_async

GATEWAY_TOKEN = "gateway-token-for-tests-0123456789"
# The tests' operator token with the notifications roles too (start_service's default holds collection's).
READER_TOKEN = "reader-token-without-personal-data-0123"
API_TOKENS = json.dumps([{"principal": "test-operator", "token": OPERATOR_TOKEN,
                          "roles": ["personal_data:read", "notifications:read", "notifications:replay"]},
                         {"principal": "reader", "token": READER_TOKEN, "roles": ["notifications:read"]}])


def delivery_env(sink: SmtpSink, gateway: Gateway, **extra: str) -> dict[str, str]:
    """The service's delivery settings pointing at the local servers; quick retries for tests."""
    env = {"ANSINH_SMTP_HOST": "127.0.0.1", "ANSINH_SMTP_PORT": str(sink.port),
           "ANSINH_MAIL_FROM": "BHXH Việt Nam <thongbao@bhxh.test>",
           "ANSINH_GATEWAY_SMS_URL": gateway.sms_url, "ANSINH_GATEWAY_PUSH_URL": gateway.push_url,
           "ANSINH_GATEWAY_TOKEN": GATEWAY_TOKEN, "ANSINH_DELIVERY_POLL_S": "0.05",
           "ANSINH_DELIVERY_BACKOFF_BASE_S": "0.1", "ANSINH_DELIVERY_BACKOFF_CAP_S": "0.5",
           "ANSINH_API_TOKENS": API_TOKENS,
           "ANSINH_SMS_QUIET_HOURS": ""}  # whatever the hour the tests run; the quiet-hours test sets its own
    env.update(extra)
    return env


@asynccontextmanager
async def servers():
    sink, gateway = SmtpSink().start(), Gateway(token=GATEWAY_TOKEN).start()
    try:
        yield sink, gateway
    finally:
        gateway.stop()
        sink.stop()


@dataclass
class Row:
    channel: str
    recipient: str
    participant_code: str = "0123456789"
    type: str = "payment_sent"
    subject: str | None = "Lương hưu tháng 11/2026 đã được chuyển"
    body: str = "Số tiền 1.234.567 ₫ đã được chuyển vào tài khoản ****6789 ngày 25/11/2026."
    event_id: uuid.UUID = field(default_factory=uuid.uuid4)
    triggered_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


INSERT = """
INSERT INTO notifications.notifications
    (event_id, participant_code, channel, type, language, recipient, subject, body, triggered_at)
VALUES ($1, $2, $3, $4, 'vi', $5, $6, $7, $8)
ON CONFLICT (event_id, participant_code, channel) DO NOTHING
RETURNING id
"""


async def insert(conn: asyncpg.Connection, *rows: Row) -> list[int]:
    """As the core does: ON CONFLICT on the unique key does nothing (a redelivered event). One transaction,
    so the dispatcher sees all the rows at once."""
    ids = []
    async with conn.transaction():
        for r in rows:
            new = await conn.fetchval(INSERT, r.event_id, r.participant_code, r.channel, r.type, r.recipient,
                                      r.subject if r.channel != "sms" else None, r.body, r.triggered_at)
            if new is not None:
                ids.append(new)
    return ids


async def set_contact(conn: asyncpg.Connection, participant: str, quiet: tuple[str, str] | None) -> None:
    quiet_from, quiet_until = (datetime.strptime(q, "%H:%M").time() for q in quiet) if quiet else (None, None)
    await conn.execute(
        "INSERT INTO notifications.contacts (participant_code, phone, language, channels, quiet_from, quiet_until, "
        "event_id, occurred_at, source_partition, source_offset) VALUES ($1, '+84901234567', 'vi', '{sms}', $2, $3, "
        "$4, now(), 0, 0)", participant, quiet_from, quiet_until, uuid.uuid4())


async def rows_by_id(conn: asyncpg.Connection, ids: list[int]) -> dict[int, asyncpg.Record]:
    found = await conn.fetch("SELECT * FROM notifications.notifications WHERE id = ANY($1::bigint[])", ids)
    return {r["id"]: r for r in found}


async def until_states(conn: asyncpg.Connection, ids: list[int], wanted: dict[int, str] | str,
                       timeout: float = 30) -> dict[int, asyncpg.Record]:
    """Until every row is in its wanted state; fails naming what each row was last seen in."""
    want = wanted if isinstance(wanted, dict) else {i: wanted for i in ids}

    async def check():
        rows = await rows_by_id(conn, ids)
        seen = {i: (rows[i]["state"], rows[i]["attempts"], rows[i]["last_error"]) if i in rows else None for i in ids}
        assert all(seen[i] and seen[i][0] == want[i] for i in ids), f"want {want}, seen {seen}"
        return rows

    return await eventually_async(check, timeout, interval=0.1, what="notifications reach their states")


async def admin(world: Isolated) -> asyncpg.Connection:
    return await asyncpg.connect(world.database_url)


def metric(service: RunningService, name: str, **labels: str) -> float:
    """A sample of the service's /metrics (0 when absent)."""
    status, body = service.get("/metrics")
    assert status == 200
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in body.decode().splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = line[len(name):].split(" ")[0].strip("{}")
            if ",".join(sorted(got.split(","))) == wanted or (not labels and not got):
                return float(line.rsplit(" ", 1)[1])
    return 0.0
