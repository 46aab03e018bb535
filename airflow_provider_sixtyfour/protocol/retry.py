"""When to retry a request, how long to wait, and how to pace requests under the rate limit; no I/O.

Retried: 429, 5xx and transport failures (connection refused or reset, timeouts). Never retried: any
other 4xx. Waits grow exponentially with full jitter, and a ``Retry-After`` (seconds or HTTP date) or
an exhausted ``X-RateLimit-Remaining`` with ``X-RateLimit-Reset`` overrides the backoff.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS_CODES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date), or None."""
    value = _header(headers, "Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def parse_rate_limit_reset(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until the rate-limit window resets, from ``X-RateLimit-Reset`` (seconds or epoch)."""
    value = _header(headers, "X-RateLimit-Reset")
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    current = time.time() if now is None else now
    # Large values are epoch timestamps; small ones are seconds from now.
    return max(0.0, number - current) if number > 1_000_000_000 else max(0.0, number)


def rate_limit_exhausted(headers: Mapping[str, str]) -> bool:
    """True when the answer says no requests are left in this window (``X-RateLimit-Remaining: 0``)."""
    value = _header(headers, "X-RateLimit-Remaining")
    try:
        return value is not None and float(value) <= 0
    except ValueError:
        return False


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, a request is retried.

    :param max_attempts: total tries of one request, the first included (1 disables retries).
    :param backoff_base: seconds before the first retry; doubles each retry (full jitter).
    :param backoff_max: the longest wait computed from backoff.
    :param max_wait: the longest wait honoured from ``Retry-After``/``X-RateLimit-Reset``; a longer
        demand ends the retries with the error instead of stalling the task.
    """

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_wait: float = 120.0

    def backoff(self, retry_number: int) -> float:
        """Full-jitter exponential backoff for the ``retry_number``-th retry (1-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2 ** max(0, retry_number - 1)))
        return random.uniform(ceiling / 2, ceiling)

    def delay_after_status(
        self, attempt: int, status_code: int, headers: Mapping[str, str], now: float | None = None
    ) -> float | None:
        """Seconds to wait before trying again after an HTTP answer, or None to stop and raise."""
        if status_code not in RETRYABLE_STATUS_CODES and not 500 <= status_code <= 599:
            return None
        if attempt >= self.max_attempts:
            return None
        demanded = parse_retry_after(headers, now)
        if demanded is None and (status_code == 429 or rate_limit_exhausted(headers)):
            demanded = parse_rate_limit_reset(headers, now)
        if demanded is not None:
            if demanded > self.max_wait:
                return None
            # A little jitter on top keeps many clients from waking in the same instant.
            return demanded + random.uniform(0, min(1.0, self.backoff_base))
        return self.backoff(attempt)

    def delay_after_transport_error(self, attempt: int, retry_safe: bool) -> float | None:
        """Seconds to wait after a failure without an answer, or None to stop and raise."""
        if not retry_safe or attempt >= self.max_attempts:
            return None
        return self.backoff(attempt)


class RateLimitGate:
    """Remembers, across requests of one client, when the API said to slow down.

    After an answer with ``X-RateLimit-Remaining: 0`` (or a 429), the next request waits for the
    window to reset instead of being refused.
    """

    def __init__(self, default_pause: float = 1.0) -> None:
        self._not_before = 0.0
        self._default_pause = default_pause

    def observe(self, status_code: int, headers: Mapping[str, str], now: float | None = None) -> None:
        """Update from an answer's status and headers."""
        current = time.monotonic() if now is None else now
        if status_code != 429 and not rate_limit_exhausted(headers):
            return
        wait = parse_retry_after(headers)
        if wait is None:
            wait = parse_rate_limit_reset(headers)
        if wait is None:
            wait = self._default_pause
        self._not_before = max(self._not_before, current + wait)

    @property
    def not_before(self) -> float:
        """The monotonic time before which no request should be sent (0 when never told to wait)."""
        return self._not_before

    def delay(self, now: float | None = None) -> float:
        """Seconds to wait before the next request may be sent."""
        current = time.monotonic() if now is None else now
        return max(0.0, self._not_before - current)
