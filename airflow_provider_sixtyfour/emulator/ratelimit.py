"""A sliding-window rate limit per API key, like the API's 500 requests per minute."""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RateDecision:
    """The outcome of one request against the limit, and the headers that describe it."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: float
    retry_after: float | None = None

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-*`` headers (and ``Retry-After`` on a refusal)."""
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_seconds)),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


class SlidingWindowLimiter:
    """Allows at most ``limit`` requests per key in any ``window_seconds`` span.

    Each key keeps the times of its accepted requests within the window (at most ``limit`` of them),
    so a check costs O(1) amortised. Refused requests do not use up the budget.
    """

    def __init__(self, limit: int, window_seconds: float = 60.0) -> None:
        if limit < 1:
            raise ValueError("rate limit must be at least 1 request per window (or disable it)")
        if window_seconds <= 0:
            raise ValueError("rate limit window must be positive")
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}

    def check(self, key: str, now: float) -> RateDecision:
        """Count a request of ``key`` at ``now`` if the window has room; say so either way."""
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        horizon = now - self.window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) >= self.limit:
            wait = hits[0] + self.window - now
            return RateDecision(False, self.limit, 0, wait, retry_after=wait)
        hits.append(now)
        reset = hits[0] + self.window - now
        return RateDecision(True, self.limit, self.limit - len(hits), reset)
