"""When to retry a request, how long to wait, and how to pace requests under the rate limit; no I/O.

Retried: 429, 5xx and transport failures (connection refused or reset, timeouts). Never retried: any
other 4xx. Waits grow exponentially with full jitter, and a ``Retry-After`` (seconds or HTTP date) or
an exhausted ``X-RateLimit-Remaining`` with ``X-RateLimit-Reset`` overrides the backoff. A told wait
is trusted only within bounds: a non-finite or unreadable value is ignored, and one longer than
``max_wait`` ends the call at once (and never holds up later calls).

429s are budgeted by time, not by attempts: many clients on one key (a fan-out of tasks in several
workers) can each be refused again and again while the window keeps answering short waits, and a
small attempt count would fail their tasks on a limit that only asked them to slow down. A 429 is
retried, with the told wait or a growing backoff, whichever is longer, until the call has waited
``rate_limit_budget`` seconds on 429s (three of the API's one-minute windows; its errors page advises
waiting 60 s) or the task's deadline stops it.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRYABLE_STATUS_CODES: frozenset[int] = frozenset({429, 500, 502, 503, 504})

#: The API's rate-limit window (500 requests a minute per key).
RATE_LIMIT_WINDOW_SECONDS = 60.0

#: How long one call keeps retrying 429s by default: three windows.
RATE_LIMIT_BUDGET_SECONDS = 3 * RATE_LIMIT_WINDOW_SECONDS

#: Numbers at or above this in ``X-RateLimit-Reset`` are epoch timestamps; smaller ones are seconds from now.
_EPOCH_THRESHOLD = 1_000_000_000


def backoff(
    retry_number: int, base: float, cap: float = math.inf, *, jitter: bool = True, most_doublings: int = 62
) -> float:
    """The wait before the ``retry_number``-th retry (1-based): ``base``, doubled with each retry after the
    first (at most ``most_doublings`` times), capped at ``cap``; with ``jitter`` a uniform pick from the
    upper half of that, so that clients failing together do not come back together.

    The one backoff of the provider: API calls (:class:`RetryPolicy`), the poller's failed cycles and
    result-file downloads each pass their own base, cap and jitter.
    """
    ceiling = min(cap, base * 2.0 ** min(max(0, retry_number - 1), most_doublings))
    return random.uniform(ceiling / 2, ceiling) if jitter else ceiling


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        for key, candidate in headers.items():
            if key.lower() == lowered:
                return candidate
    return value


def _finite_number(value: str) -> float | None:
    try:
        number = float(value.strip())
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or HTTP date); None if absent or unreadable."""
    value = _header(headers, "Retry-After")
    if value is None:
        return None
    number = _finite_number(value)
    if number is not None:
        return max(0.0, number)
    try:
        when = parsedate_to_datetime(value.strip()).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError, OSError):
        return None
    return max(0.0, when - (time.time() if now is None else now)) if math.isfinite(when) else None


def parse_rate_limit_reset(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds until the rate-limit window resets, from ``X-RateLimit-Reset`` (seconds or epoch); None if unreadable."""
    value = _header(headers, "X-RateLimit-Reset")
    number = None if value is None else _finite_number(value)
    if number is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, number - current) if number > _EPOCH_THRESHOLD else max(0.0, number)


def rate_limit_exhausted(headers: Mapping[str, str]) -> bool:
    """True when the answer says no requests are left in this window (``X-RateLimit-Remaining: 0``)."""
    value = _header(headers, "X-RateLimit-Remaining")
    number = None if value is None else _finite_number(value)
    return number is not None and number <= 0


def told_wait(status_code: int, headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds an answer told the client to wait, or None when it told nothing readable.

    ``Retry-After`` on any answer; else, on a 429 or an answer with ``X-RateLimit-Remaining: 0``,
    ``X-RateLimit-Reset``.
    """
    demanded = parse_retry_after(headers, now)
    if demanded is None and (status_code == 429 or rate_limit_exhausted(headers)):
        demanded = parse_rate_limit_reset(headers, now)
    return demanded


def _told_header(headers: Mapping[str, str]) -> str:
    return "Retry-After" if _header(headers, "Retry-After") is not None else "X-RateLimit-Reset"


@dataclass(frozen=True)
class RetryPolicy:
    """How many times, and how patiently, a request is retried.

    :param max_attempts: total tries of one request, the first included (1 disables retries, 429s'
        too). 429s do not count against it while ``rate_limit_budget`` is positive.
    :param backoff_base: seconds before the first retry; doubles each retry (full jitter).
    :param backoff_max: the longest wait computed from backoff.
    :param max_wait: the longest wait honoured from ``Retry-After``/``X-RateLimit-Reset``; a longer
        demand ends the retries with the error instead of stalling the task.
    :param rate_limit_budget: seconds of waiting after 429s one call may spend before it gives up;
        429s are retried until then, whatever their number. 0 counts 429s against ``max_attempts``
        like any other retryable answer (the connection test does, to answer in seconds).
    """

    max_attempts: int = 6
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    max_wait: float = 120.0
    rate_limit_budget: float = RATE_LIMIT_BUDGET_SECONDS

    @property
    def budgets_429s(self) -> bool:
        """True when 429s are retried by time (``rate_limit_budget``) rather than by attempts."""
        return self.rate_limit_budget > 0 and self.max_attempts > 1

    def backoff(self, retry_number: int) -> float:
        """Jittered exponential backoff for the ``retry_number``-th retry (1-based), see :func:`backoff`."""
        return backoff(retry_number, self.backoff_base, self.backoff_max)

    def delay_after_status(
        self,
        attempt: int,
        status_code: int,
        headers: Mapping[str, str],
        now: float | None = None,
        waited_on_429: float = 0.0,
    ) -> float | None:
        """Seconds to wait before trying again after an HTTP answer, or None to stop and raise.

        :param attempt: for a 429 under a time budget, how many 429s this call has had (this one
            included); otherwise how many of its attempts count against ``max_attempts``.
        :param waited_on_429: seconds this call already waited after 429s.
        """
        if status_code not in RETRYABLE_STATUS_CODES and not 500 <= status_code <= 599:
            return None
        if status_code == 429 and self.budgets_429s:
            return self._delay_after_429(attempt, headers, now, waited_on_429)
        if attempt >= self.max_attempts:
            return None
        demanded = told_wait(status_code, headers, now)
        if demanded is not None:
            if demanded > self.max_wait:
                return None
            return demanded + self._jitter()
        return self.backoff(attempt)

    def _delay_after_429(
        self, limited: int, headers: Mapping[str, str], now: float | None, waited_on_429: float
    ) -> float | None:
        if waited_on_429 >= self.rate_limit_budget:
            return None
        demanded = told_wait(429, headers, now)
        if demanded is not None and demanded > self.max_wait:
            return None
        # The told wait is a floor: when every client of the key is told "1 s" again and again, a
        # growing backoff spreads them out instead of sending them back into the window together.
        delay = self.backoff(limited)
        return delay if demanded is None else max(delay, demanded + self._jitter())

    def _jitter(self) -> float:
        # A little jitter on top of a told wait keeps many clients from waking in the same instant.
        return random.uniform(0, min(1.0, self.backoff_base))

    def rate_limit_spent(self, status_code: int, waited_on_429: float) -> str | None:
        """Why a 429 is not retried although its wait was acceptable (the budget is spent); else None."""
        if status_code != 429 or not self.budgets_429s or waited_on_429 < self.rate_limit_budget:
            return None
        return (
            f"Still rate limited after waiting {waited_on_429:.0f} s on 429 answers (this provider waits up to "
            f"{self.rate_limit_budget:.0f} s): not retried. Fewer concurrent tasks on this key, or a longer "
            "poll_interval, keep under the limit"
        )

    def wait_refusal(self, status_code: int, headers: Mapping[str, str], now: float | None = None) -> str | None:
        """Why a told wait is not honoured (it is longer than ``max_wait``), for the error; None when it is."""
        demanded = told_wait(status_code, headers, now)
        if demanded is None or demanded <= self.max_wait:
            return None
        return (
            f"The API asked to wait {demanded:.0f} s ({_told_header(headers)}), longer than the {self.max_wait:.0f} s "
            "this provider waits at most: not retried. Try again later"
        )

    def delay_after_transport_error(self, attempt: int, retry_safe: bool) -> float | None:
        """Seconds to wait after a failure without an answer, or None to stop and raise."""
        if not retry_safe or attempt >= self.max_attempts:
            return None
        return self.backoff(attempt)


class RateLimitGate:
    """Remembers, across requests of one client, when the API said to slow down.

    After an answer with ``X-RateLimit-Remaining: 0`` (or a 429), the next request waits for the
    window to reset instead of being refused. A told wait longer than ``max_wait`` is not remembered:
    one absurd header must not stall every later call of the client (the triggerer's shared poller
    serves every deferred task of a connection).

    :param default_pause: the pause after a 429 that names no wait.
    :param max_wait: the longest told wait the gate applies.
    """

    def __init__(self, default_pause: float = 1.0, max_wait: float = math.inf) -> None:
        self._not_before = 0.0
        self._default_pause = default_pause
        self._max_wait = max_wait

    def observe(self, status_code: int, headers: Mapping[str, str], now: float | None = None) -> float | None:
        """Update from an answer's status and headers; returns a told wait it refused (longer than
        ``max_wait``), else None."""
        current = time.monotonic() if now is None else now
        if status_code != 429 and not rate_limit_exhausted(headers):
            return None
        wait = told_wait(status_code, headers)
        if wait is None:
            wait = self._default_pause
        elif wait > self._max_wait:
            return wait
        self._not_before = max(self._not_before, current + wait)
        return None

    @property
    def not_before(self) -> float:
        """The monotonic time before which no request should be sent (0 when never told to wait)."""
        return self._not_before

    def delay(self, now: float | None = None) -> float:
        """Seconds to wait before the next request may be sent."""
        current = time.monotonic() if now is None else now
        return max(0.0, self._not_before - current)
