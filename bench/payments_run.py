"""Benchmark of a monthly payment run: N entitlements prepared, approved and sent, orders relayed to Kafka.

    python -m bench.payments_run [--count 1000000] [--chunk 50000] [--keep]

A private database (provisioned and migrated as the payments role, like the service) and private topics
(a fresh prefix) are seeded with ``count`` active monthly entitlements: four in five paid to one of three
banks, one in five in cash (one in eight of those at a payment point). Then, timed, the service's own code
(``services.payments.runs.Runs``, called in this process rather than over HTTP):

* **prepare**: set-based chunks ``INSERT ... SELECT ... ON CONFLICT (award_id, period) DO NOTHING``;
* **approve**: a second principal; every payment ``created -> approved`` in one statement;
* **send**: set-based chunks writing a PaymentOrderIssued (bank) or CashPaymentOrdered (cash) and a
  PaymentSent per payment into the outbox, then one pain.001 batch per bank (split under 1 MB);
* **relay**: the service's outbox relay (``OutboxRelay``, with its own producer and connection, as inline in
  the service) publishes to Kafka all along; the run ends when the outbox is empty.

Orders per second = count / (time from the start of preparation until every event is on Kafka). Beside it, two baselines, each in its own
process, the least any implementation must do: a plain ``INSERT INTO ... SELECT`` of the same rows from the
same entitlements (no unique key, no events), and a plain produce of as many records, of the same sizes, as
the relay published (aiokafka, idempotent, acks=all, batches built directly). Target (issue 9): 20,000
orders/s on the development machine.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
import uuid
from datetime import date

import asyncpg

from ansinh.ops.credentials import LocalSecrets
from ansinh.ops.provision import provision_all
from ansinh.ops.topics import ensure_topics
from ansinh.runtime import auth
from ansinh.runtime.database import connect, create_pool, prepare_schema
from ansinh.runtime.outbox import OutboxRelay, new_producer
from ansinh.runtime.settings import PlatformSettings
from services.payments.domain.calendar import load_calendar
from services.payments.runs import RunSettings, Runs
from services.payments.settings import PaymentsSettings

PERIOD = date(2026, 1, 1)
TARGET = 20_000
SEED = """
INSERT INTO entitlements (award_id, beneficiary_code, beneficiary_name, citizen_id, benefit_type, amount, recurrence,
                          first_period, status_from, channel, bank_bin, account_number, account_name, paying_office,
                          channel_from)
SELECT 'AW-' || lpad(n::text, 9, '0'), lpad(n::text, 10, '0'), 'Nguyễn Văn Người Hưởng ' || n, lpad(n::text, 12, '0'),
       CASE WHEN n % 3 = 0 THEN 'survivor_allowance' ELSE 'old_age_pension' END, 3000000 + (n % 500) * 10000,
       'monthly', $1, $1, CASE WHEN n % 5 = 0 THEN 'cash' ELSE 'bank' END,
       CASE WHEN n % 5 = 0 THEN NULL ELSE (ARRAY['970436', '970415', '970418'])[1 + n % 3] END,
       CASE WHEN n % 5 = 0 THEN NULL ELSE lpad(n::text, 13, '0') END,
       CASE WHEN n % 5 = 0 THEN NULL ELSE 'NGUYEN VAN NGUOI HUONG ' || n END,
       CASE WHEN n % 5 <> 0 THEN NULL WHEN n % 40 = 0 THEN 'DCT-' || (n % 997) ELSE 'BC-' || (n % 899) END, $1
FROM generate_series(1, $2::int) AS n
"""
BASELINE_TABLE = "CREATE TABLE baseline_payments (LIKE payments INCLUDING DEFAULTS)"
BASELINE = """
INSERT INTO baseline_payments (id, award_id, period, run_period, beneficiary_code, beneficiary_name, citizen_id,
                               benefit_type, amount, channel, bank_bin, account_number, account_name, paying_office,
                               home_delivery)
SELECT nextval('payments_id_seq'), award_id, $1, $1, beneficiary_code, beneficiary_name, citizen_id, benefit_type,
       amount, channel, bank_bin, account_number, account_name, paying_office, home_delivery FROM entitlements
"""


class World:
    """A private database and topic prefix, provisioned like the service's."""

    def __init__(self, platform: PlatformSettings):
        self.platform = platform
        self.tag = uuid.uuid4().hex[:8]
        self.dbname, self.prefix = f"bench_payments_{self.tag}", f"benchpay{self.tag}."
        self.settings = PaymentsSettings(db_password=LocalSecrets(platform.state_dir).db_password("payments"),
                                         db_name=self.dbname, db_port=platform.pg_port, topic_prefix=self.prefix,
                                         kafka_bootstrap=platform.kafka_bootstrap, pool_size=2)

    async def create(self) -> asyncpg.Pool:
        admin = await asyncpg.connect(self.platform.database_url)
        try:
            await admin.execute(f'CREATE DATABASE "{self.dbname}"')
        finally:
            await admin.close()
        await provision_all(self.platform.with_database(self.dbname), {"payments": self.settings.db_password})
        await ensure_topics(self.platform.kafka_bootstrap, self.prefix)
        await prepare_schema(self.settings)
        return await create_pool(self.settings, command_timeout=1800)

    async def drop(self) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = await asyncpg.connect(self.platform.database_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        finally:
            await admin.close()
        client = AIOKafkaAdminClient(bootstrap_servers=self.platform.kafka_bootstrap)
        await client.start()
        try:
            await client.delete_topics([t for t in await client.list_topics() if t.startswith(self.prefix)])
        finally:
            await client.close()


async def seed(pool: asyncpg.Pool, count: int) -> None:
    async with pool.acquire() as conn:
        await conn.execute(SEED, PERIOD, count)
        await conn.execute(BASELINE_TABLE)
        await conn.execute("VACUUM ANALYZE entitlements")


def _relay_process(settings: dict) -> None:
    """The outbox relay in its own process (ANSINH_RELAY=external, `ansinh outbox relay payments`)."""
    from ansinh.runtime.service import run_relay

    asyncio.run(run_relay(PaymentsSettings(**settings)))


async def system(world: World, pool: asyncpg.Pool, chunk: int, relay_mode: str) -> dict[str, float]:
    """The run's three steps, with the outbox relay publishing meanwhile (as in the service, where it runs
    all the time: inline, or in its own process), until the outbox is empty."""
    s = world.settings
    runs = Runs(lambda: pool, load_calendar(s.calendar_file), RunSettings(chunk, s.payment_point_prefixes, s.debtor()))
    maker, checker = auth.Principal("bench-maker", frozenset()), auth.Principal("bench-checker", frozenset())
    producer = new_producer(s.kafka_bootstrap)
    await producer.start()
    relay = OutboxRelay(lambda: connect(s, "ansinh-payments-bench-relay"), s.schema, producer, s.topic, s.service,
                        session_timeout_s=s.relay_session_timeout_s)
    stopping = asyncio.Event()
    times = {}
    external = None
    if relay_mode == "external":
        context = multiprocessing.get_context("spawn")
        external = context.Process(target=_relay_process, args=(s.model_dump(mode="json"),))
        external.start()
    started = time.perf_counter()
    relaying = asyncio.create_task(relay.run(stopping) if external is None else stopping.wait())
    try:
        prepared = await runs.prepare(maker, PERIOD, "benchmark")
        times["prepare"] = time.perf_counter() - started
        t = time.perf_counter()
        await runs.approve(checker, PERIOD, "benchmark", (prepared["payments"], prepared["amount"]))
        times["approve"] = time.perf_counter() - t
        t = time.perf_counter()
        sent = await runs.send(PERIOD)
        times["send"] = time.perf_counter() - t
        assert sent["state"] == "sent" and sent["sent"] == prepared["payments"], sent
        t = time.perf_counter()
        async with pool.acquire() as conn:
            while await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL"):
                await asyncio.sleep(0.05)
            times["published"] = await conn.fetchval("SELECT count(*) FROM outbox")
        times["relay after send"] = time.perf_counter() - t
        times["total"] = time.perf_counter() - started
    finally:
        stopping.set()
        await relaying
        await producer.stop()
        if external is not None:
            external.terminate()  # SIGTERM: the relay finishes its batch and stops
            external.join(30)
    return times


async def outbox_sizes(pool: asyncpg.Pool) -> list[int]:
    async with pool.acquire() as conn:
        return [r["n"] for r in await conn.fetch("SELECT length(value) AS n FROM outbox ORDER BY id")]


def _baseline_insert(url: str, out) -> None:
    async def run():
        conn = await asyncpg.connect(url, server_settings={"search_path": "payments"})
        try:
            started = time.perf_counter()
            status = await conn.execute(BASELINE, PERIOD)
            out.put((time.perf_counter() - started, int(status.split()[-1])))
        finally:
            await conn.close()
    asyncio.run(run())


def _baseline_produce(bootstrap: str, topic: str, sizes: list[int], out) -> None:
    from bench.kafka_io import publish_all

    async def run():
        items = ((f"{i % 1000:06d}".encode(), b"x" * n) for i, n in enumerate(sizes))
        started = time.perf_counter()
        await publish_all(bootstrap, topic, items)
        out.put((time.perf_counter() - started, len(sizes)))
    asyncio.run(run())


def in_process(target, *args) -> tuple[float, int]:
    """Run a baseline in its own process (its own interpreter and event loop, like the relay's own producer)."""
    out = multiprocessing.get_context("spawn").Queue()
    proc = multiprocessing.get_context("spawn").Process(target=target, args=(*args, out))
    proc.start()
    result = out.get()
    proc.join()
    return result


async def main_async(args) -> None:
    world = World(PlatformSettings())
    pool = await world.create()
    try:
        t0 = time.perf_counter()
        await seed(pool, args.count)
        print(f"seeded {args.count:,} entitlements in {time.perf_counter() - t0:.1f} s")
        times = await system(world, pool, args.chunk, args.relay)
        sizes = await outbox_sizes(pool)
        rate = args.count / times["total"]
        print(f"relay {args.relay}")
        print(f"system   {times['total']:7.2f} s for {args.count:,} orders: {rate:,.0f} orders/s "
              f"(prepare {times['prepare']:.2f} s, approve {times['approve']:.2f} s, send {times['send']:.2f} s "
              f"incl. pain.001, relay done {times['relay after send']:.2f} s later; {int(times['published']):,} events, "
              f"{sum(sizes) / 1e6:,.0f} MB)   target {TARGET:,}/s: {'met' if rate >= TARGET else 'MISSED'}")
        insert_s, insert_rows = in_process(_baseline_insert, world.settings.service_database_url)
        print(f"baseline INSERT ... SELECT {insert_s:7.2f} s for {insert_rows:,} rows ({insert_rows / insert_s:,.0f}/s)"
              f"   prepare / baseline: {times['prepare'] / insert_s:.1f}x")
        produce_s, produced = in_process(_baseline_produce, world.platform.kafka_bootstrap,
                                         world.settings.topic("payments.orders"), sizes)
        print(f"baseline produce {produce_s:7.2f} s for {produced:,} records of the relay's sizes "
              f"({produced / produce_s:,.0f}/s)")
        floor = insert_s + produce_s
        print(f"both baselines together {floor:.2f} s ({args.count / floor:,.0f} orders/s); "
              f"system / baselines: {times['total'] / floor:.1f}x")
    finally:
        await pool.close()
        if not args.keep:
            await world.drop()
        else:
            print(f"kept database {world.dbname} and topics {world.prefix}*")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000, help="entitlements (= payments = orders)")
    parser.add_argument("--chunk", type=int, default=50_000, help="rows per transaction while preparing and sending")
    parser.add_argument("--relay", choices=["inline", "external"], default="inline",
                        help="the outbox relay in this process (the service's default) or its own (ANSINH_RELAY)")
    parser.add_argument("--keep", action="store_true", help="keep the database and topics to inspect")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
