"""The runtime's one retry policy (tenacity): exponential backoff with jitter, for faults that are not the
message's.

Every loop that waits out the infrastructure uses it: a consumer's transaction, DLQ writes, the bulk
source's fetch, the outbox relay, the topics admin. Each retry is counted in
``ansinh_retries_total{service,operation,error_class}`` and marks the service not ready
(``ansinh.runtime.health``, ``/ready`` answers 503 and says what it waits on) until the operation passes,
or gives up on an error that retrying cannot fix.

What is retried (``retry_on``):

* ``"transient"``: database or broker unreachable, deadlock, serialization failure, shutdown.
* ``"not-the-message"``: also a bug of ours (SQLSTATE 42 and the like, a broker authorization error),
  where moving on would dead-letter every message: the operation holds, ``ansinh_consumer_held`` is 1
  and the log says why, until someone fixes it.
* ``"anything"``: every exception; for the last-resort guards around code that by construction absorbs
  every failure a message can cause (what still escapes is a bug of ours).

    result = await retry_transient("transaction", "collection", "collection.declarations", do_it)

or, for code that wants tenacity's loop itself (then call ``health.of(service).recovered(key(...))``)::

    async for attempt in transient_retry("relay", "collection", "collection.outbox"):
        with attempt:
            await publish()
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Literal, TypeVar

from tenacity import (AsyncRetrying, RetryCallState, retry_if_exception, stop_after_delay, stop_never,
                      wait_exponential_jitter)
from tenacity.stop import stop_base

from ansinh.runtime import health
from ansinh.runtime.errors import classify, error_name
from ansinh.runtime.metrics import HELD, RETRIES

log = logging.getLogger("ansinh.runtime.retry")
T = TypeVar("T")
RetryOn = Literal["transient", "not-the-message", "anything"]
INITIAL_S, MAX_S = 0.1, 10.0
_KINDS = {"transient": {"transient"}, "not-the-message": {"transient", "ours"},
          "anything": {"transient", "ours", "deterministic"}}


class _StopWhen(stop_base):
    def __init__(self, event: asyncio.Event):
        self.event = event

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.event.is_set()


def transient_retry(operation: str, service: str, topic: str = "", *, retry_on: RetryOn = "transient",
                    stop_when: asyncio.Event | None = None, initial_s: float = INITIAL_S,
                    max_s: float = MAX_S, hold_on_our_fault: bool = False,
                    give_up_after_s: float | None = None) -> AsyncRetrying:
    """Retry while the error is of a kind in ``retry_on``; any other is raised at once. Never gives up by
    itself (services wait out any outage); once ``stop_when`` is set, or after ``give_up_after_s`` (for
    command-line tools), the last error is raised instead of retried.
    ``hold_on_our_fault=True`` is ``retry_on="not-the-message"``."""
    kinds = _KINDS["not-the-message" if hold_on_our_fault and retry_on == "transient" else retry_on]
    return AsyncRetrying(
        retry=retry_if_exception(lambda exc: classify(exc) in kinds),
        wait=wait_exponential_jitter(multiplier=initial_s, max=max_s, jitter=initial_s),
        stop=(_StopWhen(stop_when) if stop_when is not None else stop_never)
        | (stop_after_delay(give_up_after_s) if give_up_after_s is not None else stop_never),
        before_sleep=lambda state: _report(operation, service, topic, state),
        reraise=True)


async def retry_transient(operation: str, service: str, topic: str, fn: Callable[..., Awaitable[T]],
                          *args: Any, **policy: Any) -> T:
    """``await fn(*args)`` under ``transient_retry(**policy)``; readiness comes back when it is over."""
    async def attempt() -> T:  # tenacity awaits only coroutine functions; ``fn`` may be a lambda
        result = fn(*args)
        return await result if inspect.isawaitable(result) else result

    try:
        return await transient_retry(operation, service, topic, **policy)(attempt)
    finally:
        done(operation, service, topic)


def key(operation: str, topic: str) -> str:
    """How an operation is named in ``/ready`` (``waiting_on``) and in logs."""
    return f"{operation} {topic}".strip()


def done(operation: str, service: str, topic: str = "") -> None:
    """The operation is over (passed, or gave up): it no longer holds readiness down."""
    if health.of(service).waiting_on.get(key(operation, topic)) is not None:
        health.of(service).recovered(key(operation, topic))
        HELD.labels(service, topic or operation).set(0)


def _report(operation: str, service: str, topic: str, state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    name = type(exc).__name__ if exc is not None else "unknown"
    RETRIES.labels(service, operation, name).inc()
    health.of(service).failing(key(operation, topic), name)
    wait = state.next_action.sleep if state.next_action else 0.0
    if exc is not None and classify(exc) != "transient":
        HELD.labels(service, topic or operation).set(1)
        # Loud: nothing moves until someone fixes the code, schema or grants and redeploys.
        log.error("%s is held by a bug of ours: %s (attempt %d; retrying in %.1fs; nothing is dead-lettered "
                  "or committed meanwhile)", key(operation, topic), error_name(exc), state.attempt_number, wait)
    else:
        log.warning("%s failed transiently: %s (attempt %d); retrying in %.1fs", key(operation, topic),
                    error_name(exc) if exc is not None else "?", state.attempt_number, wait)
