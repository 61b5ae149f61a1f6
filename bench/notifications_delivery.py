"""Notifications per second, rendered and delivered: the notifications service against a baseline of the same
sends without it.

    .venv/bin/python -m bench.notifications_delivery [--count 20000] [--channels email,sms,push]

* Servers: the local SMTP server (aiosmtpd) and the HTTP gateway (aiohttp) of ansinh/devplatform/mailbox.py,
  each in a process of its own, counting what they accept (``GET /_stats``).
* System: the notifications service as a real process (its own database role, Kafka, uvloop). Contacts for
  count / channels participants are published and stored first (not timed); then one ``PaymentSent`` per
  participant is published to ``payments.events``. The clock starts at the first publish and stops when the
  servers have accepted every message and the table shows every row ``sent``: consumed, rendered (Jinja2,
  Babel), inserted, claimed, sent, recorded.
* Baseline (``--baseline``, run as its own process by the main one): renders the same messages with the same
  templates and sends them through the same adapters (aiosmtplib sessions, aiohttp connections, same
  concurrency), one loop per channel in batches like the dispatcher, with no Kafka, no database, no
  dispatcher. The clock runs from the first send to the last
  acceptance.

The ratio system / baseline is printed. Target (issue 10): 5,000 messages/s on this machine.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass

import asyncpg

GOAL = 5_000
SMTP_SESSIONS, GATEWAY_CONNECTIONS, BATCH = 16, 64, 2000
INPUTS = {"amount": 5_500_000, "period": "2025-07", "reason_code": None, "paying_office": None, "channel": "bank",
          "pay_until": None, "unclaimed": 0, "benefit_type": None, "account": None}


def participant(i: int) -> str:
    return f"{7_000_000_000 + i:010d}"


@dataclass
class Servers:
    """The SMTP server and the gateway, each in its own process (both are Python and CPU-bound)."""

    procs: list[subprocess.Popen]
    smtp_port: int
    http_port: int
    smtp_stats_port: int

    def accepted(self) -> int:
        total = 0
        for port in (self.smtp_stats_port, self.http_port):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stats", timeout=10) as response:
                stats = json.loads(response.read())
            total += stats["smtp"] + sum(n for what, n in stats["gateway"].items() if what.endswith(" 202"))
        return total

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)


def start_servers() -> Servers:
    procs, ports = [], []
    for only in ("smtp", "http"):
        proc = subprocess.Popen([sys.executable, "-m", "ansinh.devplatform.mailbox", "--only", only],
                                stdout=subprocess.PIPE, text=True, cwd=_root())
        procs.append(proc)
        ports.append(json.loads(proc.stdout.readline()))
    return Servers(procs, ports[0]["smtp_port"], ports[1]["http_port"], ports[0]["http_port"])


def _root() -> str:
    from ansinh.runtime.settings import REPO_ROOT

    return str(REPO_ROOT)


def delivery_env(servers: Servers) -> dict[str, str]:
    return {"ANSINH_SMTP_HOST": "127.0.0.1", "ANSINH_SMTP_PORT": str(servers.smtp_port),
            "ANSINH_SMTP_CONNECTIONS": str(SMTP_SESSIONS), "ANSINH_GATEWAY_CONNECTIONS": str(GATEWAY_CONNECTIONS),
            "ANSINH_GATEWAY_SMS_URL": f"http://127.0.0.1:{servers.http_port}/sms",
            "ANSINH_GATEWAY_PUSH_URL": f"http://127.0.0.1:{servers.http_port}/push",
            "ANSINH_SMS_QUIET_HOURS": "", "ANSINH_DELIVERY_BATCH": str(BATCH), "ANSINH_DELIVERY_POLL_S": "0.05"}


# ------------------------------------------------------------------------------------------------------ baseline
async def baseline(count: int, channels: list[str], smtp_port: int, http_port: int) -> float:
    """Render and send ``count`` messages through the adapters alone; returns seconds."""
    from services.notifications.delivery.channels import Message, idempotency_key
    from services.notifications.delivery.email import SmtpChannel
    from services.notifications.delivery.gateway import GatewayChannel
    from services.notifications.delivery.settings import DeliverySettings
    from services.notifications.domain.delivery import Verdict
    from services.notifications.render import Renderer

    settings = DeliverySettings(**{k.removeprefix("ANSINH_").lower(): v for k, v in delivery_env(
        Servers([], smtp_port, http_port, 0)).items()})  # type: ignore[arg-type]
    adapters = {"email": SmtpChannel(settings), "sms": GatewayChannel(settings, "sms"),
                "push": GatewayChannel(settings, "push")}
    for adapter in adapters.values():
        await adapter.start()
    renderer, addresses = Renderer(), {"email": "p{}@example.test", "sms": "+8490{:07d}", "push": "device-{}"}
    event = uuid.uuid4()

    async def one_channel(channel: str) -> int:
        """Like the dispatcher's loop for a channel: batches of BATCH, rendered then sent."""
        numbers = [n for n in range(count) if channels[n % len(channels)] == channel]
        accepted = 0
        for first in range(0, len(numbers), BATCH):
            batch = []
            for n in numbers[first:first + BATCH]:
                text = renderer.render("payment_sent", channel, "vi", INPUTS)
                batch.append(Message(n, channel, "payment_sent", addresses[channel].format(n), text.subject,
                                     text.body, idempotency_key(event, participant(n // len(channels)), channel, 0)))
            accepted += sum(o.verdict is Verdict.SENT for o in await adapters[channel].send(batch))
        return accepted

    start = time.perf_counter()
    sent = sum(await asyncio.gather(*(one_channel(c) for c in channels)))
    elapsed = time.perf_counter() - start
    for adapter in adapters.values():
        await adapter.close()
    assert sent == count, f"baseline: {sent} of {count} accepted"
    return elapsed


# -------------------------------------------------------------------------------------------------------- system
async def system(count: int, channels: list[str], servers: Servers, port: int) -> float:
    from aiokafka.admin import AIOKafkaAdminClient

    from ansinh.devplatform import kafka, postgres
    from ansinh.ops.credentials import LocalSecrets
    from ansinh.ops.provision import provision_all
    from ansinh.ops.topics import ensure_topics
    from ansinh.runtime.settings import SERVICES, PlatformSettings

    platform = PlatformSettings()
    await asyncio.to_thread(kafka.start_kafka, platform)  # both reuse running servers; they run their own loops
    await asyncio.to_thread(postgres.start_postgres, platform)
    tag = uuid.uuid4().hex[:8]
    prefix, dbname = f"bench{tag}.", f"bench_notifications_{tag}"
    admin = await asyncpg.connect(platform.database_url)
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    await admin.close()
    secrets = LocalSecrets(platform.state_dir)
    await provision_all(platform.with_database(dbname), {s: secrets.db_password(s) for s in SERVICES})
    await ensure_topics(platform.kafka_bootstrap, prefix)
    env = {**os.environ, **delivery_env(servers), "ANSINH_TOPIC_PREFIX": prefix, "ANSINH_DB_NAME": dbname,
           "ANSINH_DB_PASSWORD": secrets.db_password("notifications"), "ANSINH_WEB_PORT": str(port),
           "ANSINH_LOG_LEVEL": "warning", "ANSINH_BATCH_SIZE": str(BATCH)}
    log = open(platform.state_dir / f"bench-notifications-{tag}.log", "wb")
    service = subprocess.Popen([sys.executable, "-m", "services.notifications"], env=env, cwd=_root(),
                               stdout=log, stderr=subprocess.STDOUT)
    db = await asyncpg.connect(platform.with_database(dbname))
    try:
        await _wait_ready(port, service)
        participants = count // len(channels)
        await _publish(platform, prefix, "participants.contacts", [_contact(i, channels) for i in range(participants)])
        await _until(lambda: db.fetchval("SELECT count(*) FROM notifications.contacts"), participants, service,
                     "contacts stored")
        before = servers.accepted()
        start = time.perf_counter()
        await _publish(platform, prefix, "payments.events", [_payment(i) for i in range(participants)])
        await _until(lambda: asyncio.to_thread(lambda: servers.accepted() - before), participants * len(channels),
                     service, "messages accepted by the servers")
        await _until(lambda: db.fetchval("SELECT count(*) FROM notifications.notifications WHERE state = 'sent'"),
                     participants * len(channels), service, "rows recorded sent")
        return time.perf_counter() - start
    finally:
        await db.close()
        service.terminate()
        service.wait(30)
        admin = await asyncpg.connect(platform.database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await admin.close()
        client = AIOKafkaAdminClient(bootstrap_servers=platform.kafka_bootstrap)
        await client.start()
        await client.delete_topics([t for t in await client.list_topics() if t.startswith(prefix)])
        await client.close()


def _contact(i: int, channels: list[str]) -> tuple[bytes, bytes]:
    from schemas import benefits
    from schemas.envelope import encode, new_envelope

    code = participant(i)
    message = benefits.ContactDetailsChanged(participant_code=code, phone=f"+8490{i:07d}",
                                             email=f"p{i}@example.test", app_token=f"device-{i}", channels=channels)
    return code.encode(), encode(new_envelope(message, "bench"))


def _payment(i: int) -> tuple[bytes, bytes]:
    from schemas import payments
    from schemas.envelope import encode, new_envelope

    code = participant(i)
    message = payments.PaymentSent(payment_id=f"P-{i}", beneficiary_code=code, award_id=f"AW-{i}", period="2025-07",
                                   amount=5_500_000, channel="bank", bank_bin="970436", attempt=1)
    return code.encode(), encode(new_envelope(message, "bench"))


async def _publish(platform, prefix: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=platform.kafka_bootstrap, linger_ms=20, max_batch_size=1 << 20,
                                acks="all")
    await producer.start()
    try:
        futures = [await producer.send(prefix + topic, value, key=key) for key, value in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def _until(count, expected: int, proc: subprocess.Popen, what: str, deadline_s: float = 900) -> None:
    deadline, seen = time.monotonic() + deadline_s, None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited ({proc.returncode}) while waiting for {what}")
        seen = await count()
        if seen >= expected:
            return
        await asyncio.sleep(0.05)
    raise SystemExit(f"{what}: {seen} of {expected} after {deadline_s:.0f} s")


async def _wait_ready(port: int, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the service exited ({proc.returncode}) at start-up")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise SystemExit("the service did not become ready")


def run_baseline_process(count: int, channels: list[str], servers: Servers) -> float:
    done = subprocess.run([sys.executable, "-m", "bench.notifications_delivery", "--baseline", "--count", str(count),
                           "--channels", ",".join(channels), "--smtp-port", str(servers.smtp_port),
                           "--http-port", str(servers.http_port)], cwd=_root(), capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise SystemExit(f"baseline failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="messages (a multiple of the channels)")
    parser.add_argument("--channels", default="email,sms,push")
    parser.add_argument("--port", type=int, default=6094, help="the service's web port")
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)  # the baseline's own process
    parser.add_argument("--smtp-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--http-port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    channels = args.channels.split(",")
    count = args.count - args.count % len(channels)
    if args.baseline:
        import uvloop

        print(uvloop.run(baseline(count, channels, args.smtp_port, args.http_port)))
        return
    servers = start_servers()
    try:
        base_s = run_baseline_process(count, channels, servers)
        system_s = asyncio.run(system(count, channels, servers, args.port))
    finally:
        servers.stop()
    system_rate, base_rate = count / system_s, count / base_s
    print(f"messages: {count:,} ({', '.join(channels)}), {count // len(channels):,} PaymentSent events")
    print(f"system   : {system_rate:>9,.0f} messages/s  ({system_s:.2f} s: Kafka -> render -> table -> send -> record)")
    print(f"baseline : {base_rate:>9,.0f} messages/s  ({base_s:.2f} s: render + the same adapters, no service)")
    print(f"ratio    : {system_rate / base_rate:.0%} of the baseline; target {GOAL:,}/s: "
          f"{'met' if system_rate >= GOAL else 'NOT met'}")


if __name__ == "__main__":
    main()
