"""Waiting in tests: poll a real condition until a deadline, and fail saying what was last seen.

    from tests.waiting import eventually, eventually_async

    rows = eventually(lambda: fetch_rows(), timeout=20, what="the declaration is assessed")
    def assessed():                      # a condition may assert: its message is what we last saw
        rows = fetch_rows()
        assert len(rows) == 2, rows
        return rows
    rows = eventually(assessed)
    count = await eventually_async(lambda: conn.fetchval("SELECT count(*) FROM x.inbox"), until=lambda n: n == 3)

A condition is met when it returns a truthy value (or, with ``until``, a value ``until`` accepts); that
value is returned. Exceptions it raises (an assertion, a refused connection) count as "not yet" and are
reported if the deadline passes; ``GiveUp`` ends the wait at once. Never sleep a fixed time before an assertion: wait for what it needs.
"""
from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any, Awaitable, Callable, TypeVar

T = TypeVar("T")

_NOTHING = object()


class NotYet(AssertionError):
    """The condition was not met before the deadline; the message says what was last seen."""


class GiveUp(Exception):
    """Raised by a condition that can never be met (the process it waits for exited): stop waiting now."""


def _failure(what: str, timeout: float, last: Any, attempts: int) -> NotYet:
    seen = "nothing (never evaluated)" if last is _NOTHING else (
        f"{type(last).__name__}: {last}" if isinstance(last, BaseException) else repr(last))
    if len(seen) > 2000:
        seen = seen[:2000] + "..."
    return NotYet(f"{what or 'condition'} not met within {timeout:g}s ({attempts} checks); last saw: {seen}")


def eventually(condition: Callable[[], T], timeout: float = 30.0, interval: float = 0.2, what: str = "",
               until: Callable[[T], bool] = bool) -> T:
    """Call ``condition`` until its value satisfies ``until`` (truthy by default); return that value."""
    deadline = time.monotonic() + timeout
    last: Any = _NOTHING
    attempts = 0
    while True:
        attempts += 1
        try:
            value = condition()
            if until(value):
                return value
            last = value
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001 - "not yet"; reported if it is still so at the deadline
            last = exc
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, last, attempts) from (last if isinstance(last, BaseException) else None)
        time.sleep(interval)


async def eventually_async(condition: Callable[[], Awaitable[T] | T], timeout: float = 30.0, interval: float = 0.2,
                           what: str = "", until: Callable[[T], bool] = bool) -> T:
    """``eventually`` inside a test's event loop (never blocks it): ``condition`` may return a value or an
    awaitable, awaited each time."""
    deadline = time.monotonic() + timeout
    last: Any = _NOTHING
    attempts = 0
    while True:
        attempts += 1
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if until(value):
                return value
            last = value
        except GiveUp:
            raise
        except Exception as exc:  # noqa: BLE001
            last = exc
        if time.monotonic() >= deadline:
            raise _failure(what, timeout, last, attempts) from (last if isinstance(last, BaseException) else None)
        await asyncio.sleep(interval)
