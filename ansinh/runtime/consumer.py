"""The consume loop's contract, shared by every agent: decode, handle in batches, route failures.

``BatchConsumer.process`` never raises for a bad message: undecodable ones and ones whose handler fails
permanently go to the DLQ; transient infrastructure errors are retried until they pass (the offset does
not move meanwhile). Faust acks a batch only after ``process`` returns.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence

from ansinh.runtime.decoding import Decoder, Incoming
from ansinh.runtime.dlq import DeadLetters, RawMessage
from ansinh.runtime.errors import DecodeError, PermanentError, is_transient
from ansinh.runtime.logs import correlation_id
from ansinh.runtime.metrics import BATCH_SECONDS, CONSUMED, RETRIES

log = logging.getLogger("ansinh.runtime.consumer")

# A handler commits what it can and returns the messages it refused (each with its reason): they go to
# the DLQ after the commit. It must not claim refused messages in the inbox, so a redelivery re-checks them.
Rejections = Sequence[tuple[Incoming, PermanentError]]
Handler = Callable[[Sequence[Incoming]], Awaitable[Rejections | None]]
# Optionally split in two: ``prepare`` (pure, no I/O) and ``apply`` (the transaction). A bulk source then
# prepares batch N+1 while batch N's transaction is in flight. ``prepare`` is called on chunks of the
# batch (yielding to the event loop in between, so the in-flight transaction keeps moving); its results
# must combine with ``+``.
Prepare = Callable[[Sequence[Incoming]], Any]
Apply = Callable[[Any], Awaitable[Rejections | None]]
UNEXPECTED_ATTEMPTS = 3
ACCEPT_CHUNK = 200


@dataclass
class Accepted:
    """A decoded (and possibly prepared) batch, ready for its transaction."""

    items: list[Incoming]
    prepared: Any
    started: float


class BatchConsumer:
    """Runs ``handler`` over decoded batches of one topic for one service."""

    def __init__(self, service: str, logical_topic: str, decoder: Decoder, handler: Handler | Apply,
                 dead_letters: DeadLetters, max_backoff_s: float = 10.0,
                 on_undecodable: Callable[[DecodeError], None] | None = None, prepare: Prepare | None = None):
        self.service, self.topic, self.decoder = service, logical_topic, decoder
        self.on_undecodable, self.prepare = on_undecodable, prepare
        self.handler, self.dead_letters, self.max_backoff_s = handler, dead_letters, max_backoff_s

    async def process(self, batch: Sequence[RawMessage]) -> None:
        await self.apply(await self.accept(batch))

    async def accept(self, batch: Sequence[RawMessage]) -> Accepted:
        """Decode (dead-lettering what does not decode) and prepare; touches no state."""
        started = time.perf_counter()
        decoded: list[Incoming] = []
        prepared = None
        for first in range(0, len(batch), ACCEPT_CHUNK):
            chunk: list[Incoming] = []
            for raw in batch[first:first + ACCEPT_CHUNK]:
                try:
                    chunk.append(self.decoder.decode(raw))
                except DecodeError as exc:
                    await self.dead_letters.route(raw, str(exc), type(exc).__name__)
                    if self.on_undecodable:
                        self.on_undecodable(exc)
            decoded += chunk
            if self.prepare and chunk:
                part = self.prepare(chunk)
                prepared = part if prepared is None else prepared + part
            await asyncio.sleep(0)  # let an in-flight transaction take its next step
        return Accepted(decoded, prepared, started)

    async def apply(self, accepted: Accepted) -> None:
        """Run the handler's transaction; never raises for a bad message."""
        if accepted.items:
            await self._handle(accepted.items, accepted.prepared)
        BATCH_SECONDS.labels(self.service, self.topic).observe(time.perf_counter() - accepted.started)

    async def _call(self, items: Sequence[Incoming], prepared: Any = None) -> Rejections | None:
        if self.prepare is None:
            return await self.handler(items)
        return await self.handler(prepared if prepared is not None else self.prepare(items))

    async def _handle(self, batch: Sequence[Incoming], prepared: Any = None) -> None:
        try:
            refused = await self._with_transient_retry(batch, prepared) or ()
            await self._refuse(refused)
            CONSUMED.labels(self.service, self.topic, "processed").inc(len(batch) - len(refused))
        except Exception as exc:  # noqa: BLE001 - any failure of a batch: isolate the bad message
            if len(batch) == 1:
                await self._handle_one_failed(batch[0], exc)
                return
            log.info("batch of %d failed (%s); retrying message by message", len(batch), exc)
            for item in batch:
                await self._handle([item])

    async def _with_transient_retry(self, batch: Sequence[Incoming], prepared: Any = None) -> Rejections | None:
        backoff = 0.1
        while True:
            try:
                return await self._call(batch, prepared)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                RETRIES.labels(self.service, self.topic).inc()
                log.warning("transient failure handling %d messages: %r; retrying in %.1fs", len(batch), exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff_s)

    async def _refuse(self, refused: Rejections) -> None:
        """Dead-letter what a handler refused, each logged under its own correlation id."""
        for item, error in refused:
            with _correlated(item):
                await self.dead_letters.route(item.raw, str(error), type(error).__name__)

    async def _handle_one_failed(self, item: Incoming, exc: Exception) -> None:
        with _correlated(item):
            await self._retry_or_dead_letter(item, exc)

    async def _retry_or_dead_letter(self, item: Incoming, exc: Exception) -> None:
        if isinstance(exc, PermanentError):
            await self.dead_letters.route(item.raw, str(exc), type(exc).__name__)
            return
        for attempt in range(2, UNEXPECTED_ATTEMPTS + 1):
            try:
                await self._refuse(await self._with_transient_retry([item]) or ())
                CONSUMED.labels(self.service, self.topic, "processed").inc()
                return
            except Exception as again:  # noqa: BLE001
                if isinstance(again, PermanentError):
                    exc = again
                    break
                exc = again
                log.warning("attempt %d of event %s failed: %r", attempt, item.envelope.event_id, again)
        log.exception("handler failed permanently for %s", item.envelope.event_id, exc_info=exc)
        reason = str(exc) if isinstance(exc, PermanentError) else f"handler failed: {type(exc).__name__}: {exc}"
        await self.dead_letters.route(item.raw, reason, type(exc).__name__)


async def process_until_done(batch_consumer: BatchConsumer, batch: list[RawMessage]) -> None:
    """Faust acks a batch as soon as the agent moves on, even after an exception: so never move on
    with a batch half-done. ``process`` routes bad messages itself; anything escaping it is a fault of
    ours or of the infrastructure, and the batch is retried (the partition waits) until it passes."""
    await until_done(lambda: batch_consumer.process(batch), batch_consumer.topic, len(batch))


async def until_done(step, topic: str, size: int) -> None:
    """Run ``step()`` until it returns without raising (see ``process_until_done``)."""
    backoff = 0.5
    while True:
        try:
            await step()
            return
        except Exception:  # noqa: BLE001
            log.exception("processing a batch of %d from %s failed; retrying in %.1fs (nothing is acked)",
                          size, topic, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 30.0)


@contextmanager
def _correlated(item: Incoming):
    """Logs written inside carry ``item``'s correlation id."""
    token = correlation_id.set(str(item.envelope.correlation_id))
    try:
        yield
    finally:
        correlation_id.reset(token)
