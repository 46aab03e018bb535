"""Retry decisions: which answers are retried, for how long, and the rate-limit headers."""

from __future__ import annotations

from email.utils import formatdate

import pytest

from airflow_provider_sixtyfour.protocol.retry import (
    RETRYABLE_STATUS_CODES,
    RateLimitGate,
    RetryPolicy,
    backoff,
    parse_rate_limit_reset,
    parse_retry_after,
    rate_limit_exhausted,
    told_wait,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_client_errors_are_never_retried(status: int) -> None:
    assert RetryPolicy().delay_after_status(1, status, {}) is None
    assert RetryPolicy().delay_after_status(1, status, {"Retry-After": "1"}) is None


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 507])
def test_throttling_and_server_errors_are_retried(status: int) -> None:
    delay = RetryPolicy(backoff_base=1.0, rate_limit_budget=0).delay_after_status(1, status, {})
    assert delay is not None
    assert 0.5 <= delay <= 1.0


def test_retryable_set() -> None:
    assert {429, 500, 502, 503, 504} <= RETRYABLE_STATUS_CODES


def test_budget_is_bounded() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.delay_after_status(2, 503, {}) is not None
    assert policy.delay_after_status(3, 503, {}) is None
    assert policy.delay_after_transport_error(2, retry_safe=True) is not None
    assert policy.delay_after_transport_error(3, retry_safe=True) is None


def test_single_attempt_disables_retries() -> None:
    policy = RetryPolicy(max_attempts=1)
    assert policy.delay_after_status(1, 503, {}) is None
    assert policy.delay_after_transport_error(1, retry_safe=True) is None


def test_unsafe_calls_are_not_resent_after_transport_errors() -> None:
    assert RetryPolicy().delay_after_transport_error(1, retry_safe=False) is None


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    policy = RetryPolicy(backoff_base=1.0, backoff_max=8.0)
    for retry_number, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        samples = [policy.backoff(retry_number) for _ in range(200)]
        assert all(ceiling / 2 <= s <= ceiling for s in samples)
        assert len(set(samples)) > 1  # jitter


def test_retry_after_seconds_is_honoured() -> None:
    delay = RetryPolicy(backoff_base=0.1).delay_after_status(1, 429, {"Retry-After": "5"})
    assert delay is not None
    assert 5.0 <= delay <= 5.1


def test_retry_after_http_date_is_honoured() -> None:
    headers = {"retry-after": formatdate(NOW + 30, usegmt=True)}
    assert parse_retry_after(headers, now=NOW) == pytest.approx(30.0, abs=1.0)
    delay = RetryPolicy(backoff_base=0.1).delay_after_status(1, 503, headers, now=NOW)
    assert delay is not None
    assert 29.0 <= delay <= 31.2


def test_retry_after_in_the_past_or_garbage() -> None:
    assert parse_retry_after({"Retry-After": formatdate(NOW - 30, usegmt=True)}, now=NOW) == 0.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({"Retry-After": "-3"}) == 0.0
    assert parse_retry_after({}) is None


def test_retry_after_beyond_max_wait_gives_up() -> None:
    assert RetryPolicy(max_wait=60).delay_after_status(1, 429, {"Retry-After": "3600"}) is None


def test_rate_limit_reset_seconds_and_epoch() -> None:
    assert parse_rate_limit_reset({"X-RateLimit-Reset": "12"}, now=NOW) == 12.0
    assert parse_rate_limit_reset({"x-ratelimit-reset": str(NOW + 20)}, now=NOW) == pytest.approx(20.0)
    assert parse_rate_limit_reset({"X-RateLimit-Reset": "later"}) is None
    assert parse_rate_limit_reset({}) is None


def test_rate_limit_remaining() -> None:
    assert rate_limit_exhausted({"X-RateLimit-Remaining": "0"})
    assert rate_limit_exhausted({"x-ratelimit-remaining": "0"})
    assert not rate_limit_exhausted({"X-RateLimit-Remaining": "42"})
    assert not rate_limit_exhausted({"X-RateLimit-Remaining": "n/a"})
    assert not rate_limit_exhausted({})


def test_429_without_retry_after_uses_rate_limit_reset() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "4"}
    delay = RetryPolicy(backoff_base=0.1).delay_after_status(1, 429, headers, now=NOW)
    assert delay is not None
    assert 4.0 <= delay <= 4.1


def test_429_without_any_header_backs_off() -> None:
    delay = RetryPolicy(backoff_base=2.0, rate_limit_budget=0).delay_after_status(1, 429, {})
    assert delay is not None
    assert 1.0 <= delay <= 2.0


def test_gate_waits_after_exhausted_window() -> None:
    gate = RateLimitGate()
    assert gate.delay(now=100.0) == 0.0
    gate.observe(200, {"X-RateLimit-Remaining": "10"}, now=100.0)
    assert gate.delay(now=100.0) == 0.0
    gate.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "6"}, now=100.0)
    assert gate.delay(now=100.0) == pytest.approx(6.0)
    assert gate.delay(now=104.0) == pytest.approx(2.0)
    assert gate.delay(now=107.0) == 0.0


def test_gate_after_429() -> None:
    gate = RateLimitGate(default_pause=1.5)
    gate.observe(429, {"Retry-After": "3"}, now=10.0)
    assert gate.delay(now=10.0) == pytest.approx(3.0)
    gate = RateLimitGate(default_pause=1.5)
    gate.observe(429, {}, now=10.0)
    assert gate.delay(now=10.0) == pytest.approx(1.5)


def test_gate_never_shortens_a_pause() -> None:
    gate = RateLimitGate()
    gate.observe(429, {"Retry-After": "10"}, now=0.0)
    gate.observe(429, {"Retry-After": "1"}, now=0.0)
    assert gate.delay(now=0.0) == pytest.approx(10.0)


# -- issue 11: told waits are trusted within bounds; bare 429s wait out the window -------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "1e999", "9" * 400, "", "soon", "Fri, 99 Foo 9"])
def test_non_finite_or_unreadable_told_waits_are_ignored(value: str) -> None:
    headers = {"Retry-After": value, "X-RateLimit-Reset": value, "X-RateLimit-Remaining": "0"}
    assert parse_retry_after(headers, now=NOW) is None
    assert parse_rate_limit_reset(headers, now=NOW) is None
    assert told_wait(429, headers, now=NOW) is None
    gate = RateLimitGate(default_pause=1.0, max_wait=120)
    assert gate.observe(429, headers, now=0.0) is None
    assert gate.delay(now=0.0) == 1.0  # the default pause, not an endless one


def test_non_finite_remaining_is_not_exhausted() -> None:
    assert not rate_limit_exhausted({"X-RateLimit-Remaining": "nan"})
    assert rate_limit_exhausted({"X-RateLimit-Remaining": "-inf"}) is False
    assert rate_limit_exhausted({"X-RateLimit-Remaining": "-1"})


def test_told_wait_reads_retry_after_first_then_the_reset_when_limited() -> None:
    assert told_wait(503, {"Retry-After": "4", "X-RateLimit-Reset": "9"}) == 4.0
    assert told_wait(429, {"X-RateLimit-Reset": "9"}) == 9.0
    assert told_wait(200, {"X-RateLimit-Reset": "9"}) is None  # a reset alone, with requests left, tells nothing
    assert told_wait(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9"}) == 9.0


def test_a_told_wait_beyond_max_wait_is_refused_with_a_reason() -> None:
    policy = RetryPolicy(max_wait=120)
    assert policy.delay_after_status(1, 429, {"Retry-After": "100000"}) is None
    assert policy.wait_refusal(429, {"Retry-After": "100000"}) == (
        "The API asked to wait 100000 s (Retry-After), longer than the 120 s this provider waits at most: "
        "not retried. Try again later"
    )
    reset = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(NOW + 3600)}
    assert "3600 s (X-RateLimit-Reset)" in (policy.wait_refusal(429, reset, now=NOW) or "")
    assert policy.wait_refusal(429, {"Retry-After": "120"}) is None
    assert policy.wait_refusal(429, {}) is None


def test_the_gate_keeps_no_wait_beyond_max_wait() -> None:
    gate = RateLimitGate(max_wait=120)
    assert gate.observe(429, {"Retry-After": "100000"}, now=0.0) == 100000.0
    assert gate.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(2 * 10**9)}, now=0.0) is not None
    assert gate.delay(now=0.0) == 0.0
    assert gate.observe(429, {"Retry-After": "100"}, now=0.0) is None
    assert gate.delay(now=0.0) == 100.0


def test_429s_are_retried_by_time_not_by_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base=0.01, rate_limit_budget=60)
    # Far past max_attempts, 429s are still retried while the budget lasts...
    assert policy.delay_after_status(10, 429, {}, waited_on_429=59.0) is not None
    assert policy.delay_after_status(10, 429, {}, waited_on_429=60.0) is None  # ...and not once it is spent
    assert policy.rate_limit_spent(429, 60.0) is not None
    assert policy.rate_limit_spent(429, 59.0) is None
    # A told wait is a floor under the growing backoff; other statuses still count attempts.
    assert 2.0 <= (policy.delay_after_status(1, 429, {"Retry-After": "2"}) or 0) <= 2.02
    assert policy.delay_after_status(3, 503, {}) is None


def test_one_backoff_serves_every_caller_with_its_own_numbers() -> None:
    assert [backoff(n, 5.0, 60.0, jitter=False) for n in (0, 1, 2, 3, 4, 5)] == [5.0, 5.0, 10.0, 20.0, 40.0, 60.0]
    assert backoff(10, 0.1, 60.0, jitter=False, most_doublings=6) == pytest.approx(6.4)
    assert backoff(10_000, 1.0, jitter=False) == 2.0**62  # no overflow, however many retries
    for n in (1, 2, 3):
        samples = [backoff(n, 1.0) for _ in range(100)]
        assert all(2 ** (n - 1) / 2 <= s <= 2 ** (n - 1) for s in samples)
