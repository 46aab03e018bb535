"""Request counters, per route template and per API key fingerprint (never the key itself)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from typing import Any

NO_KEY = "no-key"
INVALID_KEY = "invalid-key"
SIGNED_URL = "signed-url"
UNMATCHED_ROUTE = "unmatched"


def key_label(api_key: str) -> str:
    """A short, non-secret fingerprint of an API key, used to label counters."""
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:12]


class Stats:
    """What the emulator has been asked and what it did."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.rate_limited: defaultdict[str, int] = defaultdict(int)
        self.faults: defaultdict[str, int] = defaultdict(int)
        self.runs_started = 0
        self.idempotent_replays = 0
        self.cancel_requests = 0
        self.uploads = 0
        self.downloads_started = 0
        self.downloads_completed = 0
        self.bytes_served = 0

    def count(self, route: str, label: str) -> None:
        self.requests[route][label] += 1

    def total(self, route: str | None = None) -> int:
        """Requests counted on ``route`` (all routes when None)."""
        if route is not None:
            return sum(self.requests.get(route, {}).values())
        return sum(sum(per_key.values()) for per_key in self.requests.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": {route: dict(per_key) for route, per_key in self.requests.items()},
            "requests_total": self.total(),
            "rate_limited": dict(self.rate_limited),
            "faults_fired": dict(self.faults),
            "runs_started": self.runs_started,
            "idempotent_replays": self.idempotent_replays,
            "cancel_requests": self.cancel_requests,
            "uploads": self.uploads,
            "downloads_started": self.downloads_started,
            "downloads_completed": self.downloads_completed,
            "bytes_served": self.bytes_served,
        }
