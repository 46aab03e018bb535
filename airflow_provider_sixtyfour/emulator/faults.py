"""Faults injected on demand: error statuses, dropped connections, slow answers, broken downloads, and
dropped, duplicated, delayed or reordered outgoing-webhook deliveries."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from fnmatch import fnmatchcase
from typing import Any

from airflow_provider_sixtyfour.emulator.known_keys import check_known_keys
from airflow_provider_sixtyfour.emulator.routes import API_PATHS, DOWNLOAD_LINKS

#: The route template of the emulator's own signed-URL file storage (the targets of ``download_url``).
STORAGE_ROUTE = "/_storage/{bucket}/{job_id}/{filename}"

#: ``route`` value matching every API route (not the storage, nor webhook deliveries).
ANY_API_ROUTE = "*"

#: The ``route`` of faults on the deliveries the emulator sends to ``outgoing_webhook`` URLs.
OUTGOING_WEBHOOK_ROUTE = "outgoing_webhook"

FAULT_KINDS: dict[str, str] = {
    "status": "answer an HTTP error status without doing the work (429 carries Retry-After)",
    "reset": "drop the connection with a TCP reset before answering, without doing the work",
    "delay": "wait `seconds` before handling the request normally",
    "lose_response": "do the work (e.g. create the run), then drop the connection instead of answering",
    "truncate": "downloads: announce the full Content-Length, send `fraction` of the body, then drop the connection",
    "expire": "downloads: answer 403 'Request has expired' as storage does for an expired signed URL",
    "null_url": "download-links: answer download_url null (signing failed) for the files matching `filename`",
    "drop": "webhook deliveries: lose this try on the way (never sent); the emulator retries it like a lost answer",
    "duplicate": "webhook deliveries: send this try twice",
    "reorder": "webhook deliveries: hold this delivery until another one was sent (at most `seconds`)",
}

_STORAGE_KINDS = frozenset({"truncate", "expire"})
#: The kinds a rule on :data:`OUTGOING_WEBHOOK_ROUTE` may have (``delay`` waits ``seconds`` before a try).
WEBHOOK_KINDS = frozenset({"drop", "duplicate", "delay", "reorder"})
_WEBHOOK_ONLY_KINDS = WEBHOOK_KINDS - {"delay"}
_NOT_API = frozenset({STORAGE_ROUTE, OUTGOING_WEBHOOK_ROUTE})


@dataclass(frozen=True)
class FaultRule:
    """A fault the emulator injects into requests on one route.

    :param route: an API route template of ``emulator.routes`` (e.g. ``LIVE_STATUS.path``), :data:`STORAGE_ROUTE`
        for file downloads, :data:`OUTGOING_WEBHOOK_ROUTE` for webhook deliveries (kinds ``drop``,
        ``duplicate``, ``delay``, ``reorder``), or ``"*"`` for every API route. ``truncate`` and ``expire``
        always apply to downloads; ``route=DOWNLOAD_LINKS`` is accepted for them and means the same.
    :param kind: one of :data:`FAULT_KINDS`: ``status``, ``reset``, ``delay``, ``lose_response``,
        ``truncate``, ``expire``, ``null_url``; for deliveries ``drop``, ``duplicate``, ``delay``, ``reorder``.
    :param status: the HTTP status for ``kind="status"`` (any 4xx/5xx; 409 gives a conflict, 429 a rate limit).
    :param rate: probability (0..1) that a matching request gets the fault.
    :param count: how many times the fault fires before it retires; None for no limit.
    :param retry_after: seconds sent in ``Retry-After`` (429 defaults to 1; other statuses send none unless set).
    :param seconds: the wait of a ``delay`` fault; the longest hold of a ``reorder`` fault.
    :param fraction: the share of the body a ``truncate`` fault sends before dropping the connection.
    :param filename: a glob on result file names for ``truncate``, ``expire`` and ``null_url``; None matches all.
    :param method: restrict to one HTTP method (e.g. ``"GET"``); None matches any.
    :param detail: the API message in the error body of a ``status`` fault.
    :param seed: seeds this rule's random draws (``rate``), so which requests fail is reproducible.
    """

    route: str
    kind: str = "status"
    status: int | None = None
    rate: float = 1.0
    count: int | None = None
    retry_after: float | None = None
    seconds: float = 0.0
    fraction: float = 0.5
    filename: str | None = None
    method: str | None = None
    detail: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"FaultRule kind {self.kind!r} is unknown; use one of {sorted(FAULT_KINDS)}")
        route = self.route
        if self.kind in _STORAGE_KINDS and route in (DOWNLOAD_LINKS.path, STORAGE_ROUTE):
            route = STORAGE_ROUTE
        valid = (*API_PATHS, STORAGE_ROUTE, OUTGOING_WEBHOOK_ROUTE, ANY_API_ROUTE)
        if route not in valid:
            raise ValueError(f"FaultRule route {self.route!r} is not a route template; use one of {list(valid)}")
        if self.kind in _STORAGE_KINDS and route != STORAGE_ROUTE:
            raise ValueError(f"FaultRule kind {self.kind!r} applies to downloads: use route=STORAGE_ROUTE")
        if self.kind == "null_url" and route != DOWNLOAD_LINKS.path:
            raise ValueError("FaultRule kind 'null_url' applies to route=DOWNLOAD_LINKS")
        if route == STORAGE_ROUTE and self.kind == "lose_response":
            raise ValueError("FaultRule kind 'lose_response' does not apply to downloads; use 'truncate'")
        on_webhook = route == OUTGOING_WEBHOOK_ROUTE
        if (on_webhook and self.kind not in WEBHOOK_KINDS) or (not on_webhook and self.kind in _WEBHOOK_ONLY_KINDS):
            raise ValueError(
                f"FaultRule route {OUTGOING_WEBHOOK_ROUTE!r} takes the kinds {sorted(WEBHOOK_KINDS)}, and those "
                f"kinds (but delay) apply to it only; got kind {self.kind!r} on route {self.route!r}"
            )
        if self.kind == "reorder" and self.seconds <= 0:
            raise ValueError("FaultRule kind 'reorder' needs seconds=<the longest a delivery is held back> > 0")
        object.__setattr__(self, "route", route)
        if self.kind == "status" and (self.status is None or not 400 <= int(self.status) <= 599):
            raise ValueError("FaultRule kind 'status' needs status=<an HTTP error code from 400 to 599>")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"FaultRule rate must be between 0 and 1, got {self.rate}")
        if self.count is not None and self.count < 0:
            raise ValueError("FaultRule count must be >= 0 or None")
        if not 0.0 <= self.fraction < 1.0:
            raise ValueError("FaultRule fraction must be in [0, 1)")
        if self.seconds < 0:
            raise ValueError("FaultRule seconds must be >= 0")
        if self.method is not None:
            object.__setattr__(self, "method", self.method.upper())

    def applies_to(self, route: str, method: str, filename: str | None = None) -> bool:
        """True when a request on ``route`` (and, for files, ``filename``) is subject to this rule."""
        if self.route == ANY_API_ROUTE:
            if route in _NOT_API:
                return False
        elif self.route != route:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.filename is None or filename is None or fnmatchcase(filename, self.filename)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (the admin route's and config file's shape)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRule:
        """Build a rule from JSON; unknown keys are an error naming the known ones."""
        check_known_keys(data, (f.name for f in fields(cls)), "fault")
        return cls(**dict(data))


class _ArmedRule:
    __slots__ = ("fired", "remaining", "rng", "rule")

    def __init__(self, rule: FaultRule, rng: random.Random) -> None:
        self.rule = rule
        self.remaining = rule.count
        self.rng = rng
        self.fired = 0


class FaultBook:
    """The active fault rules, in the order they were added; the first one that fires wins."""

    def __init__(self, seed: int | None = None) -> None:
        self._seed = seed
        self._armed: list[_ArmedRule] = []
        self._added = 0
        self._routes: set[str] = set()

    def add(self, rule: FaultRule) -> None:
        """Arm ``rule``."""
        self._added += 1
        if rule.seed is not None:
            rng = random.Random(rule.seed)
        elif self._seed is not None:
            rng = random.Random(f"{self._seed}:{self._added}")
        else:
            rng = random.Random()
        self._armed.append(_ArmedRule(rule, rng))
        self._routes.add(rule.route)

    def clear(self) -> None:
        """Disarm every rule."""
        self._armed.clear()
        self._routes.clear()

    def may_fire(self, route: str) -> bool:
        """Cheap pre-check: is any rule armed for ``route``?"""
        if not self._routes:
            return False
        return route in self._routes or (ANY_API_ROUTE in self._routes and route not in _NOT_API)

    def draw(
        self, route: str, method: str, kinds: frozenset[str] | set[str], filename: str | None = None
    ) -> FaultRule | None:
        """The rule of one of ``kinds`` that fires for this request, if any (consumes its count)."""
        if not self.may_fire(route):
            return None
        for armed in self._armed:
            rule = armed.rule
            if rule.kind not in kinds or not rule.applies_to(route, method, filename):
                continue
            if armed.remaining is not None and armed.remaining <= 0:
                continue
            if rule.rate < 1.0 and armed.rng.random() >= rule.rate:
                continue
            if armed.remaining is not None:
                armed.remaining -= 1
            armed.fired += 1
            return rule
        return None

    def describe(self) -> list[dict[str, Any]]:
        """Every rule with how often it fired and how many firings remain."""
        return [{**a.rule.to_dict(), "fired": a.fired, "remaining": a.remaining} for a in self._armed]
