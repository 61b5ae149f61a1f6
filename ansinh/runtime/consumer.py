"""The consume loop's contract, shared by every agent: decode, handle in batches, route failures.

No message can stop a consumer. ``BatchConsumer.process`` ends every message either processed or in
``<topic>.dlq`` (with its original bytes, a reason that names no value, its error class and the stage):

* **decode**: bytes that are not a valid envelope and payload for the topic;
* **prepare**: the pure half of a handler raised; the chunk is prepared again one message at a time
  and only the messages that raise alone are dead-lettered;
* **check**: the handler refused the message (it returned it with a ``PermanentError``);
* **transaction**: the transaction failed deterministically (SQLSTATE 21/22/23..., a value the driver
  cannot encode, an exception of the handler). The batch is split in halves, left first, each in its
  own transaction, until the message that fails alone is found (it is tried twice alone); it is
  dead-lettered and the rest is committed. A message whose event id was already used for different
  content (``inbox.claim`` raises ``EventIdReused`` naming it) is dead-lettered directly, no bisection.

Transient faults (database or broker unreachable, deadlock...) and bugs of ours (SQLSTATE 42...) are
retried in place with the runtime's one policy (``ansinh.runtime.retry``): nothing is dead-lettered
for them and the offset does not move meanwhile; readiness is red until they pass. Faust acks a batch
only after ``process`` returns.

A failure in a pure step (decode, prepare, check) is the sender's: that message is always dead-lettered,
however many come in a row. A consumer whose *transaction* dead-letters ``dead_letter_limit`` messages in
a row, with nothing committed in between, points to a broken deploy of ours rather than broken data (the
pure steps refuse what the database cannot hold; like arroyo's ``DlqLimit``): it then holds on the next
such message (retried in place, ``ansinh_consumer_held`` 1, readiness red, the ConsumerHeld alert)
instead of emptying the topic into its DLQ. An operator decides: fix and redeploy, or raise
``ANSINH_DEAD_LETTER_LIMIT`` and restart.
"""
from __future__ import annotations

import asyncio
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Sequence, TypeVar

from ansinh.runtime.decoding import Decoder, Incoming
from ansinh.runtime.dlq import DeadLetters, RawMessage
from ansinh.runtime.errors import DecodeError, EventIdReused, PermanentError, error_name, failure_reason
from ansinh.runtime.logs import correlation_id
from ansinh.runtime.metrics import BATCH_SECONDS, BISECTIONS, CONSUMED, DEAD_LETTERS_IN_A_ROW, RECEIVED
from ansinh.runtime.retry import retry_transient

log = logging.getLogger("ansinh.runtime.consumer")
T = TypeVar("T")

# A handler commits what it can and returns the messages it refused (each with its reason): they go to
# the DLQ after the commit. It must not claim refused messages in the inbox, so a redelivery re-checks them.
Rejections = Sequence[tuple[Incoming, PermanentError]]
Handler = Callable[[Sequence[Incoming]], Awaitable[Rejections | None]]
# Optionally split in two: ``prepare`` (pure, no I/O) and ``apply`` (the transaction). A bulk source then
# prepares batch N+1 while batch N's transaction is in flight. ``prepare`` is called on chunks of the
# batch (yielding to the event loop in between, so the in-flight transaction keeps moving); its results
# must combine with ``+``. It may be called again on parts of a batch (one message, a half) when a
# message must be isolated, so it must be deterministic.
Prepare = Callable[[Sequence[Incoming]], Any]
Apply = Callable[[Any], Awaitable[Rejections | None]]
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
                 on_undecodable: Callable[[DecodeError], None] | None = None, prepare: Prepare | None = None,
                 initial_backoff_s: float = 0.1, dead_letter_limit: int = 0):
        self.service, self.topic, self.decoder = service, logical_topic, decoder
        self.on_undecodable, self.prepare = on_undecodable, prepare
        self.handler, self.dead_letters = handler, dead_letters
        self.backoff = {"initial_s": initial_backoff_s, "max_s": max_backoff_s}
        self.dead_letter_limit = dead_letter_limit  # 0: no limit
        self.in_a_row = 0  # transaction dead letters since the last commit

    async def process(self, batch: Sequence[RawMessage]) -> None:
        await self.apply(await self.accept(batch))

    # ---- pure steps: decode and prepare, per chunk, isolating what raises ------------------------------
    async def accept(self, batch: Sequence[RawMessage]) -> Accepted:
        """Decode and prepare (dead-lettering what fails there); touches no state."""
        started = time.perf_counter()
        decoded: list[Incoming] = []
        prepared = None
        for first in range(0, len(batch), ACCEPT_CHUNK):
            chunk: list[Incoming] = []
            for raw in batch[first:first + ACCEPT_CHUNK]:
                try:
                    chunk.append(self.decoder.decode(raw))
                except Exception as exc:  # noqa: BLE001 - whatever the bytes, the consumer goes on
                    await self._undecodable(raw, exc)
            if self.prepare and chunk:
                part, chunk = await self._prepare(chunk)
                if chunk:
                    prepared = part if prepared is None else prepared + part
            decoded += chunk
            await asyncio.sleep(0)  # let an in-flight transaction take its next step
        RECEIVED.labels(self.service, self.topic).inc(len(batch))  # once, even when until_done repeats accept
        return Accepted(decoded, prepared, started)

    async def _undecodable(self, raw: RawMessage, exc: Exception) -> None:
        reason = failure_reason(exc, "decode")
        await self.dead_letters.route(raw, reason, type(exc).__name__, "decode")
        if self.on_undecodable:
            try:
                self.on_undecodable(exc if isinstance(exc, DecodeError) else DecodeError(reason, "decoder_failed"))
            except Exception as callback_error:  # noqa: BLE001 - a metric callback must not stop the consumer
                log.warning("on_undecodable of %s failed: %s", self.topic, error_name(callback_error))

    async def _prepare(self, chunk: list[Incoming]) -> tuple[Any, list[Incoming]]:
        """``prepare(chunk)``; if it raises, prepare each message alone and dead-letter those that raise."""
        try:
            return self.prepare(chunk), chunk
        except Exception as exc:  # noqa: BLE001 - a pure step failed: find the message that makes it fail
            log.info("preparing %d messages of %s failed (%s); preparing them one by one", len(chunk),
                     self.topic, error_name(exc))
        prepared, kept = None, []
        for item in chunk:
            try:
                part = self.prepare([item])
            except Exception as exc:  # noqa: BLE001 - a pure step: the message's fault, never a hold
                with _correlated(item):
                    await self.dead_letters.route(item.raw, failure_reason(exc, "prepare"), type(exc).__name__,
                                                  "prepare")
                continue
            prepared = part if prepared is None else prepared + part
            kept.append(item)
        return prepared, kept

    # ---- the transaction: commit, or isolate the message that makes it fail ----------------------------
    async def apply(self, accepted: Accepted) -> None:
        """Run the handler's transaction; never raises for a bad message."""
        if accepted.items:
            await self._settle(accepted.items, accepted.prepared)
        BATCH_SECONDS.labels(self.service, self.topic).observe(time.perf_counter() - accepted.started)

    async def _settle(self, items: Sequence[Incoming], prepared: Any = None) -> None:
        """Commit ``items`` in one transaction; if it fails deterministically, split to find the cause."""
        try:
            refused = await self._transaction(items, prepared)
        except EventIdReused as exc:
            await self._set_aside(items, exc)
            return
        except Exception as exc:  # noqa: BLE001 - transient faults and our bugs were retried inside
            await self._isolate(items, exc)
            return
        await self._committed(items, refused)

    async def _set_aside(self, items: Sequence[Incoming], exc: EventIdReused) -> None:
        """The inbox named the messages whose event id was already used for different content: dead-letter
        exactly those and commit the rest in one more transaction (the claim knows the culprits, so no
        bisection). If none matches (the handler hashed something else than ``Incoming.digest``), bisect."""
        named = set(exc.reused)
        culprits = [i for i in items if (i.envelope.event_id, i.digest) in named]
        if not culprits:
            await self._isolate(items, exc)
            return
        for item in culprits:
            with _correlated(item):
                log.warning("event id %s of %s was already used for different content; dead-lettering it",
                            item.envelope.event_id, self.topic)
                await self.dead_letters.route(item.raw, str(exc.alone(item.envelope.event_id)),
                                              type(exc).__name__, "transaction")
        rest = [i for i in items if (i.envelope.event_id, i.digest) not in named]
        if rest:
            await self._settle(rest)

    async def _transaction(self, items: Sequence[Incoming], prepared: Any = None) -> Rejections:
        """The handler's transaction, retried in place on transient faults and held on bugs of ours."""
        return await retry_transient("transaction", self.service, self.topic, self._call, items, prepared,
                                     retry_on="not-the-message", **self.backoff) or ()

    async def _call(self, items: Sequence[Incoming], prepared: Any = None) -> Rejections | None:
        if self.prepare is None:
            return await self.handler(items)
        return await self.handler(prepared if prepared is not None else self.prepare(items))

    async def _isolate(self, items: Sequence[Incoming], exc: Exception) -> None:
        if len(items) > 1:
            BISECTIONS.labels(self.service, self.topic).inc()
            log.info("transaction of %d messages of %s failed (%s); splitting the batch to find the cause",
                     len(items), self.topic, error_name(exc))
            middle = len(items) // 2
            await self._settle(items[:middle])  # left first: what commits, commits in offset order
            await self._settle(items[middle:])
            return
        [item] = items
        with _correlated(item):
            if not isinstance(exc, PermanentError):
                try:  # it failed alone once; a second failure alone shows it is this message
                    refused = await self._transaction(items)
                except Exception as again:  # noqa: BLE001
                    exc = again
                else:
                    await self._committed(items, refused)
                    return
            if self._over_limit(exc):
                await self._committed(items, await self._hold("transaction", lambda: self._transaction(items)))
                return
            log.warning("event %s of %s fails its transaction alone: %s; dead-lettering it",
                        item.envelope.event_id, self.topic, error_name(exc))
            await self.dead_letters.route(item.raw, failure_reason(exc, "transaction"), type(exc).__name__,
                                          "transaction")

    def _over_limit(self, exc: Exception) -> bool:
        """Count a transaction dead letter; True when it is one too many in a row (hold instead).
        A ``PermanentError`` is a deliberate refusal of the message, not a symptom of a bug: not counted."""
        if isinstance(exc, PermanentError):
            return False
        self.in_a_row += 1
        DEAD_LETTERS_IN_A_ROW.labels(self.service, self.topic).set(self.in_a_row)
        if not self.dead_letter_limit or self.in_a_row <= self.dead_letter_limit:
            return False
        log.error("%s: %d messages in a row failed their transaction (%s) with nothing committed in between: "
                  "holding instead of dead-lettering more (a broken deploy?). Fix and redeploy, or raise "
                  "ANSINH_DEAD_LETTER_LIMIT and restart.", self.topic, self.in_a_row - 1, error_name(exc))
        return True

    async def _hold(self, stage: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Retry ``attempt`` in place until it passes (``ansinh_consumer_held`` 1, readiness red)."""
        return await retry_transient(f"held at {stage}", self.service, self.topic, attempt, retry_on="anything",
                                     initial_s=self.backoff["initial_s"], max_s=max(self.backoff["max_s"], 30.0))

    async def _committed(self, items: Sequence[Incoming], refused: Rejections) -> None:
        """Dead-letter what the handler refused, each under its own correlation id; count the rest."""
        for item, error in refused:
            with _correlated(item):
                await self.dead_letters.route(item.raw, failure_reason(error, "check"), type(error).__name__,
                                              "check")
        CONSUMED.labels(self.service, self.topic, "processed").inc(len(items) - len(refused))
        if len(items) > len(refused) and self.in_a_row:
            self.in_a_row = 0
            DEAD_LETTERS_IN_A_ROW.labels(self.service, self.topic).set(0)


async def process_until_done(batch_consumer: BatchConsumer, batch: list[RawMessage]) -> None:
    """Faust acks a batch as soon as the agent moves on, even after an exception: so never move on
    with a batch half-done (see ``until_done``)."""
    await until_done(lambda: batch_consumer.process(batch), batch_consumer.service, batch_consumer.topic)


async def until_done(step: Callable[[], Awaitable[T]], service: str, topic: str) -> T:
    """The last-resort guard of a consume loop: run ``step()`` until it returns.

    ``process``/``accept``/``apply`` absorb every failure a message can cause and retry transient ones
    themselves; what still escapes is a bug of ours (in the runtime or a handler breaking its contract).
    Moving on would lose the batch (faust acks it) or dead-letter it wholesale, so the partition holds:
    retried with the runtime's backoff, readiness red, ``ansinh_consumer_held`` 1, logged loudly.
    """
    return await retry_transient("consume", service, topic, step, retry_on="anything", max_s=30.0)


@contextmanager
def _correlated(item: Incoming):
    """Logs written inside carry ``item``'s correlation id."""
    token = correlation_id.set(str(item.envelope.correlation_id))
    try:
        yield
    finally:
        correlation_id.reset(token)
