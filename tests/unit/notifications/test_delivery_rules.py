"""Delivery rules (pure): outcomes of replies, backoff with jitter, quiet hours, the rate limit."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from services.notifications.domain.delivery import (
    BUSINESS_TZ, RECOVERED_STATE, Bucket, Outcome, QuietHours, RetryPolicy, Verdict, after_attempt, http_outcome,
    parse_quiet_hours, smtp_outcome)

NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)  # 10:00 in Ho Chi Minh City


@pytest.mark.parametrize("status, verdict", [
    (200, Verdict.SENT), (202, Verdict.SENT), (400, Verdict.PERMANENT), (404, Verdict.PERMANENT),
    (422, Verdict.PERMANENT), (401, Verdict.TRANSIENT), (403, Verdict.TRANSIENT), (408, Verdict.TRANSIENT), (429, Verdict.TRANSIENT),
    (500, Verdict.TRANSIENT), (503, Verdict.TRANSIENT)])
def test_a_gateway_status_says_whether_to_try_again(status, verdict):
    assert http_outcome(status).verdict is verdict


@pytest.mark.parametrize("code, verdict", [
    (250, Verdict.SENT), (421, Verdict.TRANSIENT), (450, Verdict.TRANSIENT), (451, Verdict.TRANSIENT),
    (550, Verdict.PERMANENT), (553, Verdict.PERMANENT)])
def test_smtp_4xx_is_tried_again_and_5xx_is_final(code, verdict):
    assert smtp_outcome(code).verdict is verdict


def test_reasons_are_codes_not_content():
    assert http_outcome(503).reason == "http_503"
    assert smtp_outcome(550).reason == "smtp_550"


def test_a_transient_failure_is_retried_later_until_the_last_attempt_then_fails():
    policy = RetryPolicy(max_attempts=3, base_s=10, cap_s=1000)
    first = after_attempt(Outcome.transient("http_503"), 1, NOW, policy, random01=0.5)
    assert first.state == "pending" and first.next_attempt_at == NOW + timedelta(seconds=5)
    second = after_attempt(Outcome.transient("http_503"), 2, NOW, policy, random01=0.5)
    assert second.next_attempt_at == NOW + timedelta(seconds=10)
    last = after_attempt(Outcome.transient("http_503"), 3, NOW, policy, random01=0.5)
    assert (last.state, last.next_attempt_at, last.reason) == ("failed", None, "http_503")


def test_a_permanent_refusal_fails_at_the_first_attempt():
    after = after_attempt(Outcome.permanent("http_400"), 1, NOW, RetryPolicy(max_attempts=8), 0.3)
    assert (after.state, after.reason) == ("failed", "http_400")


def test_a_sent_message_is_sent():
    assert after_attempt(Outcome.sent(), 5, NOW, RetryPolicy(), 0.9).state == "sent"


@given(st.integers(1, 60), st.floats(0, 0.999999))
def test_backoff_stays_within_its_doubling_ceiling_and_the_cap(attempts, r):
    policy = RetryPolicy(max_attempts=100, base_s=30, cap_s=3600)
    delay = policy.delay(attempts, r).total_seconds()
    assert 0 <= delay <= min(3600, 30 * 2 ** (attempts - 1))


def test_jitter_spreads_retries_of_the_same_attempt():
    policy = RetryPolicy(base_s=30, cap_s=3600)
    assert policy.delay(4, 0.1) < policy.delay(4, 0.9)
    assert policy.delay(4, 0.9).total_seconds() == pytest.approx(216)


def test_after_a_crash_sms_and_push_are_sent_again_but_email_is_uncertain():
    assert RECOVERED_STATE == {"sms": "pending", "push": "pending", "email": "uncertain"}


def local(h: int, m: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=BUSINESS_TZ)


def test_quiet_hours_across_midnight_end_the_next_morning():
    quiet = QuietHours(time(21), time(7))
    assert quiet.until(local(22, 30)) == local(7, day=26)
    assert quiet.until(local(2)) == local(7)
    assert quiet.until(local(21)) == local(7, day=26)


def test_outside_quiet_hours_sms_may_go():
    quiet = QuietHours(time(21), time(7))
    assert quiet.until(local(7)) is None
    assert quiet.until(local(20, 59)) is None
    assert quiet.until(local(12)) is None


def test_quiet_hours_within_a_day():
    quiet = QuietHours(time(12), time(13, 30))
    assert quiet.until(local(12, 10)) == local(13, 30)
    assert quiet.until(local(13, 30)) is None


def test_quiet_hours_are_read_in_ho_chi_minh_time_whatever_the_clock_zone():
    quiet = QuietHours(time(21), time(7))
    utc_15h = datetime(2026, 11, 25, 15, 0, tzinfo=timezone.utc)  # 22:00 local
    assert quiet.until(utc_15h) == datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)  # 07:00 local


def test_equal_bounds_or_empty_text_mean_no_quiet_hours():
    assert QuietHours(time(8), time(8)).until(local(8)) is None
    assert parse_quiet_hours("").until(local(23)) is None
    assert parse_quiet_hours("21:30-06:15") == QuietHours(time(21, 30), time(6, 15))
    with pytest.raises(ValueError, match="HH:MM-HH:MM"):
        parse_quiet_hours("late")


def test_the_rate_limit_allows_a_burst_then_the_rate():
    bucket = Bucket.full(rate=10, at=0.0)
    assert bucket.available(0.0) == 10
    bucket = bucket.take(10, 0.0)
    assert bucket.available(0.0) == 0
    assert bucket.wait(0.0) == pytest.approx(0.1)
    assert bucket.available(0.5) == 5
    assert bucket.available(100.0) == 10  # never more than the burst


def test_no_rate_means_no_limit():
    bucket = Bucket.full(rate=0, at=0.0)
    assert bucket.take(10**6, 0.0).available(0.0) > 10**6
    assert bucket.wait(0.0) == 0


@given(st.floats(0.5, 500), st.lists(st.tuples(st.floats(0, 2), st.integers(0, 50)), max_size=40))
def test_a_bucket_never_allows_more_than_burst_plus_rate_times_time(rate, steps):
    bucket, now, taken = Bucket.full(rate=rate, at=0.0), 0.0, 0
    for dt, want in steps:
        now += dt
        n = min(want, bucket.available(now))
        bucket, taken = bucket.take(n, now), taken + n
    assert taken <= bucket.burst + rate * now + 1e-6
