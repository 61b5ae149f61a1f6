"""The service skeleton: one faust app per service, wired in one place.

``ServiceRuntime`` owns everything created at start-up (schema migrations, the asyncpg pool, the
idempotent producer, the outbox relay, the inbox/outbox pruner, the lag monitor) and closes it at
shutdown. ``build_app`` makes the faust app with ``/health``, ``/ready`` and ``/metrics``; ``consume``
attaches a batch agent to a catalogue topic.
"""
from __future__ import annotations

import asyncio
import gc
import logging
import signal
from contextlib import asynccontextmanager
from typing import Callable

import asyncpg
import faust
import mode
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ansinh.runtime.bulk import BulkSource
from ansinh.runtime.consumer import Apply, BatchConsumer, Handler, Prepare, process_until_done
from ansinh.runtime.errors import DecodeError
from ansinh.runtime.database import connect, create_pool, prepare_schema
from ansinh.runtime.decoding import Decoder
from ansinh.runtime.dlq import DeadLetters, RawMessage
from ansinh.runtime.lag import lag_of
from ansinh.runtime import health, kafka_records, probes
from ansinh.runtime.metrics import CONSUMER_LAG, DB_POOL_CONNECTIONS, DB_POOL_MAX
from ansinh.runtime.outbox import Flushed, OutboxRelay, new_producer
from ansinh.runtime.prune import Pruner, retention
from ansinh.runtime.settings import ServiceSettings
from schemas.topics import spec

log = logging.getLogger("ansinh.runtime.service")


class ServiceRuntime(mode.Service):
    """Resources of one running service; agents wait for ``ready`` before touching them."""

    def __init__(self, settings: ServiceSettings, **kwargs):
        super().__init__(**kwargs)
        kafka_records.install()  # before any consumer fetches: a header key must not stop a partition
        self.settings = settings
        self.pool: asyncpg.Pool | None = None
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self.ready = asyncio.Event()  # set once resources exist (start-up); see ``health`` for "can work now"
        self.health = health.of(settings.service)  # red while an operation waits out a fault (retry.py)
        self.consumed_topics: dict[str, str] = {}  # logical topic -> consumer group
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    async def on_start(self) -> None:
        s = self.settings
        applied = await prepare_schema(s)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        self.pool = await create_pool(s)
        self.producer = new_producer(s.kafka_bootstrap)
        await self.producer.start()
        self.relay = _relay(s, self.producer, "relay")
        self._tasks = [asyncio.create_task(self._monitor_lag(), name="lag-monitor")]
        if s.relay == "inline":
            self._tasks.append(asyncio.create_task(self.relay.run(self._stopping), name="outbox-relay"))
        pruner = Pruner(self.pool, s.schema, s.service, retention(s.service, s.inbox_retention_days),
                        s.prune_interval_s)
        self._tasks.append(asyncio.create_task(pruner.run(self._stopping), name="pruner"))
        for name, probe in (("broker", probes.BrokerProbe(self.producer)), ("database", probes.DatabaseProbe(s))):
            self._tasks.append(asyncio.create_task(probes.watch(name, s.service, probe, self._stopping),
                                                   name=f"{name}-probe"))
        # What exists now (modules, schemas, the law, clients) lives as long as the process: out of every later
        # full collection, which would otherwise traverse it again during batches.
        gc.freeze()
        self.ready.set()
        self.health.start()
        log.info("%s ready: schema %s, Kafka %s", s.service, s.schema, s.kafka_bootstrap)

    async def on_stop(self) -> None:
        self.health.stop()
        self._stopping.set()  # the relay finishes the batch it is publishing, then returns
        for task in self._tasks:
            if task.get_name() == "lag-monitor":
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.producer:
            await self.producer.stop()
        if self.pool:
            await self.pool.close()

    def batch_consumer(self, logical_topic: str, handler: Handler | Apply, group: str,
                       on_undecodable: Callable[[DecodeError], None] | None = None,
                       prepare: Prepare | None = None, tombstones: bool = False) -> BatchConsumer:
        self.consumed_topics[logical_topic] = group
        return BatchConsumer(self.settings.service, logical_topic,
                             Decoder(spec(logical_topic).messages, tombstones=tombstones),
                             handler, _LazyDeadLetters(self, logical_topic), on_undecodable=on_undecodable,
                             prepare=prepare, dead_letter_limit=self.settings.dead_letter_limit)

    def observe_pool(self) -> None:
        """Pool use as of this scrape (asyncpg counts its own connections; no query)."""
        if self.pool is None:
            return
        size, idle = self.pool.get_size(), self.pool.get_idle_size()
        DB_POOL_CONNECTIONS.labels(self.settings.service, "in_use").set(size - idle)
        DB_POOL_CONNECTIONS.labels(self.settings.service, "idle").set(idle)
        DB_POOL_MAX.labels(self.settings.service).set(self.pool.get_max_size())

    async def _monitor_lag(self) -> None:
        """Every 10 s: per topic, end offsets minus the group's committed offsets."""
        s = self.settings
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap)
        probe = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, enable_auto_commit=False)
        await admin.start()
        await probe.start()
        try:
            while True:
                try:
                    for logical, group in self.consumed_topics.items():
                        CONSUMER_LAG.labels(s.service, logical).set(await lag_of(admin, probe, group, s.topic(logical)))
                except Exception as exc:  # noqa: BLE001 - a metric must never take the service down
                    log.debug("lag monitor: %r", exc)
                await asyncio.sleep(10)
        finally:
            await probe.stop()
            await admin.close()


class _LazyDeadLetters(DeadLetters):
    """DeadLetters whose producer is the runtime's, created at start-up rather than at wiring time."""

    def __init__(self, runtime: ServiceRuntime, logical_topic: str):
        self.runtime = runtime
        super().__init__(None, runtime.settings.service, logical_topic)  # type: ignore[arg-type]

    async def route(self, message: RawMessage, reason: str, error_class: str, stage: str = "transaction") -> None:
        self.producer = self.runtime.producer
        await super().route(message, reason, error_class, stage)


def build_app(settings: ServiceSettings, runtime: ServiceRuntime) -> faust.App:
    datadir = settings.faust_dir / settings.app_id  # not ``<app id>-data`` in the current directory
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.app_id,
        datadir=str(datadir),
        broker=f"kafka://{settings.kafka_bootstrap}",
        web_host=settings.web_host,
        web_bind=settings.web_host,  # faust binds to web_bind (default 0.0.0.0); web_host only names the URL
        web_port=settings.effective_web_port,
        web_in_thread=False,
        topic_replication_factor=1,
        topic_disable_leader=True,
        topic_allow_declare=False,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_every=1000,
        broker_commit_interval=1.0,
        stream_buffer_maxsize=max(16384, settings.batch_size * 4),
        broker_max_poll_records=5000,
        consumer_max_fetch_size=16 * 1024 * 1024,
    )
    app.add_dependency(runtime)

    @app.page("/health")
    async def health(web, request):
        return web.json({"service": settings.service, "status": "alive"})

    @app.page("/ready")
    async def ready(web, request):
        ok = runtime.ready.is_set() and runtime.health.ready
        return web.json({"service": settings.service, "ready": ok, "waiting_on": runtime.health.waiting_on},
                        status=200 if ok else 503)

    @app.page("/metrics")
    async def metrics(web, request):
        runtime.observe_pool()
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    return app


def consume(app: faust.App, runtime: ServiceRuntime, logical_topic: str, handler: Handler | Apply,
            on_undecodable: Callable[[DecodeError], None] | None = None, bulk: bool = False,
            prepare: Prepare | None = None, tombstones: bool = False) -> None:
    """Attach a consumer of ``logical_topic``: batches of raw records go through a ``BatchConsumer``.

    A faust agent by default; ``bulk`` topics use ``BulkSource`` (plain aiokafka batches inside the app)
    unless ``ANSINH_BULK_ENGINE=faust``. With ``prepare``, ``handler`` receives what ``prepare`` made of
    the decoded batch (see ``ansinh.runtime.consumer``). With ``tombstones`` (compacted topics whose
    deletions mean something), a keyed record without a value reaches ``handler`` as a
    ``decoding.Tombstone`` instead of being dead-lettered.
    """
    settings = runtime.settings
    if bulk and settings.bulk_engine == "aiokafka":
        group = f"{settings.app_id}.{logical_topic}"
        app.add_dependency(BulkSource(runtime, logical_topic, group,
                                      runtime.batch_consumer(logical_topic, handler, group, on_undecodable,
                                                             prepare, tombstones)))
        return
    topic = app.topic(settings.topic(logical_topic), key_type=bytes, value_type=bytes,
                      key_serializer="raw", value_serializer="raw")
    batch_consumer = runtime.batch_consumer(logical_topic, handler, settings.app_id, on_undecodable, prepare,
                                            tombstones)

    async def agent(stream):
        await runtime.ready.wait()
        async for events in stream.take_events(settings.batch_size, within=settings.batch_window_s):
            await process_until_done(batch_consumer, [_raw(e) for e in events])

    agent.__name__ = f"consume_{logical_topic.replace('.', '_').replace('-', '_')}"
    app.agent(topic, name=f"{settings.service}.{logical_topic}")(agent)


def _raw(event) -> RawMessage:
    m = event.message
    headers = tuple((k, v) for k, v in (m.headers or []))
    return RawMessage(m.topic, m.partition, m.offset, m.key, m.value, headers)


def run_worker(app: faust.App, settings: ServiceSettings) -> None:
    """Run the faust worker in the foreground until SIGTERM/SIGINT; refuse to start without credentials."""
    import sys

    from ansinh.runtime.logs import logging_config
    from ansinh.runtime.settings import MissingCredentials

    try:
        settings.service_database_url
    except MissingCredentials as exc:
        sys.exit(f"refusing to start: {exc}")

    # Batches allocate hundreds of thousands of short-lived objects: collect the young generation less
    # often (the default, 700 allocations, runs the collector thousands of times per batch).
    gc.set_threshold(100_000, 20, 20)
    if settings.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.set_event_loop(asyncio.new_event_loop())
    faust.Worker(app, loglevel=settings.log_level, logging_config=logging_config(settings.service, settings.log_level),
                 quiet=True).execute_from_commandline()


def _relay(settings: ServiceSettings, producer: AIOKafkaProducer, role: str) -> OutboxRelay:
    """A relay on its own connections, named ``ansinh-<service>-<role>`` in pg_stat_activity (so an
    operator, and ``outbox flush``, can see who holds the relay lock)."""
    name = f"ansinh-{settings.service}-{role}"
    return OutboxRelay(lambda: connect(settings, name), settings.schema, producer, settings.topic, settings.service,
                       session_timeout_s=settings.relay_session_timeout_s)


@asynccontextmanager
async def _standalone_relay(settings: ServiceSettings, role: str):
    """A service's outbox relay outside the service process, with its own producer."""
    producer = new_producer(settings.kafka_bootstrap)
    await producer.start()
    try:
        yield _relay(settings, producer, role)
    finally:
        await producer.stop()


async def run_relay(settings: ServiceSettings) -> None:
    """Run a service's outbox relay on its own (``ansinh outbox relay SERVICE``) until interrupted."""
    await prepare_schema(settings)  # the relay may start before the service has migrated
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with _standalone_relay(settings, "relay") as relay:
        await relay.run(stopping)


async def flush_outbox(settings: ServiceSettings, wait_s: float = 5.0) -> Flushed:
    """Publish everything pending in a service's outbox, holding the relay lock like any relay; when
    another relay holds it for ``wait_s``, publish nothing (that relay is publishing) and say who holds it."""
    async with _standalone_relay(settings, "flush") as relay:
        return await relay.flush(wait_s)
