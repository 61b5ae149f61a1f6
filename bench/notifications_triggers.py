"""Notifications created per second (the core: events in, rendered pending rows out) beside a baseline that
renders and stores the same rows without the service.

    .venv/bin/python -m bench.notifications_triggers [--count 20000] [--channels email,sms,push]

* System: the notifications service as a real process, delivery off (so only the core's work is timed).
  Contacts for count / channels participants are published and stored first (not timed); then one
  ``PaymentSent`` per participant on ``payments.events``. The clock runs from the first publish until the table
  holds every row: consumed, decoded, claimed in the inbox, contacts read, rendered (Jinja2, Babel), inserted.
* Baseline (its own process, same uvloop): the same messages rendered with the same renderer and inserted
  with the same statement in the service's batch size on one connection; no Kafka, no inbox, no decoding.

Prints rows per second for both and the ratio. Needs the local platform (``./run platform up``).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import asyncpg

from bench.notifications_delivery import (BATCH, INPUTS, _contact, _payment, _publish, _root, _until, _wait_ready,
                                          participant)

ADDRESSES = {"email": "p{}@example.test", "sms": "+8490{:07d}", "push": "device-{}"}


async def baseline(count: int, channels: list[str], url: str) -> float:
    """Render and insert ``count`` rows the way the handler does, without the service; returns seconds."""
    from services.notifications import repository
    from services.notifications.render import Renderer
    from services.notifications.triggers import Notification

    renderer, conn = Renderer(), await asyncpg.connect(url)
    participants, at = count // len(channels), datetime.now(timezone.utc)
    try:
        start = time.perf_counter()
        for first in range(0, participants, BATCH):
            rows = []
            for i in range(first, min(first + BATCH, participants)):
                event = uuid.uuid4()
                texts = renderer.render_all("payment_sent", "vi", INPUTS, channels)
                rows += [Notification(event, participant(i), c, "payment_sent", "vi", ADDRESSES[c].format(i),
                                      texts[c].subject, texts[c].body, at) for c in channels]
            async with conn.transaction():
                await repository.insert_notifications(conn, rows)
        return time.perf_counter() - start
    finally:
        await conn.close()


async def system(count: int, channels: list[str], port: int) -> float:
    """The service from Kafka to rows; returns seconds."""
    world = await _World.create()
    env = {**os.environ, "ANSINH_TOPIC_PREFIX": world.prefix, "ANSINH_DB_NAME": world.dbname,
           "ANSINH_DB_PASSWORD": world.password, "ANSINH_WEB_PORT": str(port), "ANSINH_LOG_LEVEL": "warning",
           "ANSINH_BATCH_SIZE": str(BATCH), "ANSINH_DELIVERY_ENABLED": "false"}
    log = open(world.platform.state_dir / f"bench-notifications-triggers-{world.tag}.log", "wb")
    service = subprocess.Popen([sys.executable, "-m", "services.notifications"], env=env, cwd=_root(), stdout=log,
                               stderr=subprocess.STDOUT)
    db = await asyncpg.connect(world.platform.with_database(world.dbname))
    try:
        await _wait_ready(port, service)
        participants = count // len(channels)
        await _publish(world.platform, world.prefix, "participants.contacts",
                       [_contact(i, channels) for i in range(participants)])
        await _until(lambda: db.fetchval("SELECT count(*) FROM notifications.contacts"), participants, service,
                     "contacts stored")
        start = time.perf_counter()
        await _publish(world.platform, world.prefix, "payments.events", [_payment(i) for i in range(participants)])
        await _until(lambda: db.fetchval("SELECT count(*) FROM notifications.notifications"),
                     participants * len(channels), service, "rows created")
        return time.perf_counter() - start
    finally:
        await db.close()
        service.terminate()
        service.wait(30)
        await world.remove()


class _World:
    """A private database (provisioned like the platform's) and topic prefix on the running local platform."""

    @classmethod
    async def create(cls) -> "_World":
        from ansinh.devplatform import kafka, postgres
        from ansinh.ops.credentials import LocalSecrets
        from ansinh.ops.provision import provision_all
        from ansinh.ops.topics import ensure_topics
        from ansinh.runtime.settings import SERVICES, PlatformSettings

        self = cls()
        self.platform = PlatformSettings()
        await asyncio.to_thread(kafka.start_kafka, self.platform)  # reuse the running servers
        await asyncio.to_thread(postgres.start_postgres, self.platform)
        self.tag = uuid.uuid4().hex[:8]
        self.prefix, self.dbname = f"bench{self.tag}.", f"bench_notif_core_{self.tag}"
        admin = await asyncpg.connect(self.platform.database_url)
        await admin.execute(f'CREATE DATABASE "{self.dbname}"')
        await admin.close()
        secrets = LocalSecrets(self.platform.state_dir)
        self.password = secrets.db_password("notifications")
        await provision_all(self.platform.with_database(self.dbname), {s: secrets.db_password(s) for s in SERVICES})
        await ensure_topics(self.platform.kafka_bootstrap, self.prefix)
        return self

    def service_url(self) -> str:
        return self.platform.url_for("ansinh_notifications", self.password, self.dbname)

    async def remove(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = await asyncpg.connect(self.platform.database_url)
        await admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        await admin.close()
        client = AIOKafkaAdminClient(bootstrap_servers=self.platform.kafka_bootstrap)
        await client.start()
        await client.delete_topics([t for t in await client.list_topics() if t.startswith(self.prefix)])
        await client.close()


async def _baseline_world(count: int, channels: list[str]) -> float:
    """The baseline's own migrated database, so it inserts into the same table with the same indexes."""
    from ansinh.runtime.database import prepare_schema
    from ansinh.runtime.settings import ServiceSettings

    world = await _World.create()
    try:
        await prepare_schema(ServiceSettings(service="notifications", db_name=world.dbname, db_password=world.password,
                                             db_port=world.platform.pg_port))
        return await baseline(count, channels, world.service_url())
    finally:
        await world.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000, help="rows (a multiple of the channels)")
    parser.add_argument("--channels", default="email,sms,push")
    parser.add_argument("--port", type=int, default=6095, help="the service's web port")
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)  # the baseline's own process
    args = parser.parse_args()
    channels = args.channels.split(",")
    count = args.count - args.count % len(channels)
    if args.baseline:
        import uvloop

        print(uvloop.run(_baseline_world(count, channels)))
        return
    done = subprocess.run([sys.executable, "-m", "bench.notifications_triggers", "--baseline", "--count", str(count),
                           "--channels", ",".join(channels)], cwd=_root(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"baseline failed: {done.stderr[-2000:]}")
    base_s = float(done.stdout.strip().splitlines()[-1])
    system_s = asyncio.run(system(count, channels, args.port))
    print(f"notifications created ({count:,} rows, {len(channels)} channel(s) per event):")
    print(f"  baseline (render + insert, no service): {count / base_s:10,.0f} rows/s  ({base_s:.2f} s)")
    print(f"  system (Kafka -> service -> rows):      {count / system_s:10,.0f} rows/s  ({system_s:.2f} s)")
    print(f"  ratio system / baseline: {base_s / system_s:.0%}")


if __name__ == "__main__":
    main()
