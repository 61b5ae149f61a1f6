"""A bulk source: one topic consumed in batches with plain aiokafka, inside the faust app.

Faust hands an agent one event at a time through its conductor, channels and stream processors; on this
machine that costs ~80 µs a message before any work is done (``bench/faust_noop.py``), a ceiling of
~12,000 messages/s. Topics with national-scale volume (20 million declarations a month) use this source
instead: ``getmany`` batches straight into the same ``BatchConsumer``, and offsets are committed only
after the batch's transaction has committed, never before.

It runs as a child service of the faust app (same process, lifecycle, /ready, /metrics, logs), in its
own consumer group ``<app id>.<topic>``.
"""
from __future__ import annotations

import asyncio
import logging

import mode
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError

from ansinh.runtime.consumer import BatchConsumer, until_done
from ansinh.runtime.dlq import RawMessage
from ansinh.runtime.errors import error_name
from ansinh.runtime.retry import retry_transient

log = logging.getLogger("ansinh.runtime.bulk")


class BulkSource(mode.Service):
    def __init__(self, runtime, logical_topic: str, group_id: str, batch_consumer: BatchConsumer, **kwargs):
        super().__init__(**kwargs)
        self.runtime, self.logical_topic, self.batch_consumer = runtime, logical_topic, batch_consumer
        self.group_id = group_id
        self.consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._drained = asyncio.Event()

    async def on_start(self) -> None:
        s = self.runtime.settings
        self.consumer = AIOKafkaConsumer(
            s.topic(self.logical_topic), bootstrap_servers=s.kafka_bootstrap, group_id=self.group_id,
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=s.batch_size,
            fetch_max_bytes=32 * 1024 * 1024, max_partition_fetch_bytes=4 * 1024 * 1024)
        await self.consumer.start()
        self.add_future(self._consume())

    async def on_stop(self) -> None:
        """Stop fetching, let the in-flight transaction finish and its offsets be committed, then leave."""
        self._stopping.set()
        try:
            await asyncio.wait_for(self._drained.wait(), timeout=30)
        except asyncio.TimeoutError:
            log.warning("%s: in-flight batch did not finish in 30 s; it will be redelivered", self.logical_topic)
        if self.consumer is not None:
            await self.consumer.stop()

    async def _consume(self) -> None:
        """Fetch, accept (decode + prepare) batch N+1 while batch N's transaction runs; commit offsets
        of N only after its transaction committed."""
        window_ms = max(1, int(self.runtime.settings.batch_window_s * 1000))
        in_flight: tuple[asyncio.Task, dict[TopicPartition, int]] | None = None
        try:
            waits = [asyncio.ensure_future(self.runtime.ready.wait()), asyncio.ensure_future(self._stopping.wait())]
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            for w in waits:
                w.cancel()
            while not self._stopping.is_set():
                fetched = await self._fetch(window_ms)
                records = [r for part in fetched.values() for r in part]
                accepted = None
                if records:
                    batch = [RawMessage(r.topic, r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                             for r in records]
                    # Its dead letters (decode, prepare) are acknowledged before accept returns, and its
                    # offsets are committed only after its own transaction: never before either.
                    accepted = await until_done(lambda b=batch: self.batch_consumer.accept(b), self._service,
                                                self.logical_topic)
                if in_flight is not None:
                    await self._finish(in_flight)
                    in_flight = None
                if accepted is not None:
                    task = asyncio.create_task(until_done(lambda a=accepted: self.batch_consumer.apply(a),
                                                          self._service, self.logical_topic))
                    in_flight = (task, {tp: part[-1].offset + 1 for tp, part in fetched.items() if part})
            if in_flight is not None:  # stopping: let the last transaction finish and record it
                await self._finish(in_flight)
        finally:
            self._drained.set()

    @property
    def _service(self) -> str:
        return self.runtime.settings.service

    async def _fetch(self, window_ms: int):
        """The next batch; a broker fault is retried (readiness red meanwhile) until it passes or we stop.
        Anything else the fetch raises (authorization, a corrupt record) is not the message's to pay for
        either: the partition holds with a loud log."""
        def fetch():
            return self.consumer.getmany(timeout_ms=window_ms, max_records=self.runtime.settings.batch_size)
        try:
            return await retry_transient("fetch", self._service, self.logical_topic, fetch, retry_on="anything",
                                         stop_when=self._stopping)
        except Exception:  # noqa: BLE001 - only when stopping: nothing was fetched
            if not self._stopping.is_set():
                raise
            return {}

    async def _finish(self, in_flight) -> None:
        task, offsets = in_flight
        await task
        await self._commit(offsets)

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        try:
            await retry_transient("commit", self._service, self.logical_topic, self.consumer.commit, offsets)
        except CommitFailedError as exc:
            # The group rebalanced while we worked: the new owner re-reads these records and the inbox
            # makes the redelivery harmless.
            log.info("offset commit after a rebalance failed (%s); records will be redelivered", exc)
        except Exception as exc:  # noqa: BLE001 - same outcome: a redelivery, which the inbox makes harmless
            log.warning("offset commit of %s failed (%s); records will be redelivered", self.logical_topic,
                        error_name(exc))
