"""Delivery rules, pure: what a send's outcome means for a notification, when to try again, when SMS may
go out (quiet hours), and how many sends a channel's rate limit allows now.

No I/O here: the dispatcher (``services/notifications/delivery/dispatcher.py``) feeds these functions the
clock, the attempt counts and a random number, so every rule is a unit test.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from enum import Enum
from zoneinfo import ZoneInfo

BUSINESS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Verdict(str, Enum):
    """What a channel said about one message."""

    SENT = "sent"            # accepted by the SMTP server or the gateway
    TRANSIENT = "transient"  # may pass later: 5xx, 429, timeouts, refused connections, SMTP 4xx
    PERMANENT = "permanent"  # will never pass as it is: an invalid number (gateway 4xx), SMTP 5xx


@dataclass(frozen=True)
class Outcome:
    """The result of one send. ``reason`` is a short code (``smtp_550``, ``http_503``, ``timeout``) that
    names what happened, never the recipient or the content (it is stored, logged and shown to operators)."""

    verdict: Verdict
    reason: str = ""

    @classmethod
    def sent(cls) -> "Outcome":
        return cls(Verdict.SENT)

    @classmethod
    def transient(cls, reason: str) -> "Outcome":
        return cls(Verdict.TRANSIENT, reason)

    @classmethod
    def permanent(cls, reason: str) -> "Outcome":
        return cls(Verdict.PERMANENT, reason)


def http_outcome(status: int) -> Outcome:
    """A gateway's HTTP status: 2xx sent; 408, 425, 429 and 5xx worth another try; 401 and 403 too (our
    credentials are wrong, not the message: retried while an operator fixes them, and alerted on); any other
    4xx final (the gateway refused this message: an invalid number or app token, a body it will never take)."""
    if 200 <= status < 300:
        return Outcome.sent()
    if status in (401, 403, 408, 425, 429) or status >= 500:
        return Outcome.transient(f"http_{status}")
    return Outcome.permanent(f"http_{status}")


def smtp_outcome(code: int) -> Outcome:
    """An SMTP reply code (RFC 5321 4.2.1): 2xx accepted, 4xx transient (mailbox busy, greylisting, server
    short of space), 5xx permanent (no such mailbox, refused). Anything else is treated as transient."""
    if 200 <= code < 300:
        return Outcome.sent()
    if 500 <= code < 600:
        return Outcome.permanent(f"smtp_{code}")
    return Outcome.transient(f"smtp_{code}")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
    the n-th retry waits a uniform random time in [0, min(cap, base * 2**(n-1))], so a gateway outage
    does not bring every queued message back at the same instant."""

    max_attempts: int = 8
    base_s: float = 30.0
    cap_s: float = 3600.0

    def delay(self, attempts: int, random01: float) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (1-based); ``random01`` in [0, 1)."""
        ceiling = min(self.cap_s, self.base_s * 2 ** max(attempts - 1, 0))
        return timedelta(seconds=ceiling * random01)


@dataclass(frozen=True)
class AfterAttempt:
    """A notification's state after an attempt: ``state`` is sent, pending (with ``next_attempt_at``)
    or failed; ``reason`` is the outcome's code."""

    state: str
    next_attempt_at: datetime | None
    reason: str


def after_attempt(outcome: Outcome, attempts: int, now: datetime, policy: RetryPolicy,
                  random01: float) -> AfterAttempt:
    """Sent stays sent; a permanent refusal fails at once; a transient failure is retried with backoff
    until ``policy.max_attempts`` attempts were made, then fails (kept for an operator to replay)."""
    if outcome.verdict is Verdict.SENT:
        return AfterAttempt("sent", None, "")
    if outcome.verdict is Verdict.PERMANENT or attempts >= policy.max_attempts:
        return AfterAttempt("failed", None, outcome.reason)
    return AfterAttempt("pending", now + policy.delay(attempts, random01), outcome.reason)


# Crash recovery: what a notification found `sending` after a restart becomes, per channel. The gateway
# deduplicates by idempotency key (the notification id), so sending again is safe; SMTP has no such key,
# so the message may or may not have left: `uncertain`, for an operator to decide (replay sends it again).
RECOVERED_STATE = {"sms": "pending", "push": "pending", "email": "uncertain"}


@dataclass(frozen=True)
class QuietHours:
    """A daily window, in Asia/Ho_Chi_Minh time, in which no SMS is sent. ``start == end`` means none;
    ``start > end`` spans midnight (22:00-06:00)."""

    start: time
    end: time

    def until(self, now: datetime) -> datetime | None:
        """When the window that contains ``now`` ends (UTC), or None when ``now`` is outside every window."""
        if now.tzinfo is None:
            raise ValueError("now must carry a timezone")
        if self.start == self.end:
            return None
        local = now.astimezone(BUSINESS_TZ)
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:
            inside = self.start <= t < self.end
            end_day = local.date()
        else:  # spans midnight
            inside = t >= self.start or t < self.end
            end_day = local.date() + timedelta(days=1) if t >= self.start else local.date()
        if not inside:
            return None
        return datetime.combine(end_day, self.end, tzinfo=BUSINESS_TZ).astimezone(timezone.utc)


def parse_quiet_hours(text: str) -> QuietHours:
    """``"21:00-07:00"`` -> QuietHours; empty text means no quiet hours."""
    if not text.strip():
        return QuietHours(time(0), time(0))
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise ValueError("quiet hours must read HH:MM-HH:MM (Asia/Ho_Chi_Minh), e.g. 21:00-07:00") from None
    return QuietHours(start, end)


@dataclass(frozen=True)
class Bucket:
    """A token bucket: ``rate`` sends a second on average, at most ``burst`` at once; ``tokens`` held at
    ``at`` (seconds on a monotonic clock). ``rate <= 0`` means no limit."""

    rate: float
    burst: float
    tokens: float
    at: float

    @classmethod
    def full(cls, rate: float, at: float, burst: float | None = None) -> "Bucket":
        size = burst if burst is not None else max(rate, 1.0)
        return cls(rate, size, size, at)

    def available(self, now: float) -> int:
        """Whole sends allowed at ``now``."""
        if self.rate <= 0:
            return 1 << 30
        return int(self._refilled(now))

    def take(self, n: int, now: float) -> "Bucket":
        """The bucket after ``n`` sends at ``now`` (never below zero)."""
        if self.rate <= 0:
            return self
        return Bucket(self.rate, self.burst, max(self._refilled(now) - n, 0.0), now)

    def wait(self, now: float) -> float:
        """Seconds until one more send is allowed."""
        if self.rate <= 0:
            return 0.0
        return max(0.0, (1.0 - self._refilled(now)) / self.rate)

    def _refilled(self, now: float) -> float:
        return min(self.burst, self.tokens + max(now - self.at, 0.0) * self.rate)
