"""The shared status poller: one per connection and event loop, for every run trigger of that connection.

Polling each run on its own costs one request per run per interval (1,000 runs every 5 s is 12,000
requests a minute, against a limit of 500). A shared poller instead asks one run list per cycle and
learns from that single answer which watched runs are still queued or running; what it asks is decided
by :func:`~airflow_provider_sixtyfour.triggers.plan.plan`. While a run-event watcher listens, the list
holds every status (``GET /workflows/runs?limit=500``): the watchers get its records, and the run
triggers read the active ones from the same answer.

A poller belongs to one event loop (the triggerer runs all triggers in one loop; tests may run several
loops) and one connection, identified by its id *and* a fingerprint of its base URL and key, so a
rotated key gets a new poller. This module is the registry of those pollers and the entry points
triggers use (:func:`subscribe_run`, :func:`subscribe_runs_list`); it also re-exports the updates and
subscriptions a trigger reads.

The pieces, one job each: :mod:`~airflow_provider_sixtyfour.triggers.updates` (what a trigger is told),
:mod:`~airflow_provider_sixtyfour.triggers.mailbox` (where it is told), :mod:`~.plan` (what to ask),
:mod:`~.failures` (what a failure means), :mod:`~.run_poller` (the task that asks).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import threading
import time
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field

from airflow_provider_sixtyfour.triggers.mailbox import ListSubscription, Subscription
from airflow_provider_sixtyfour.triggers.plan import (
    DIRECT_MAX_RUNS,
    FALLBACK_CALLS_PER_CYCLE,
    PROGRESS_CALLS_PER_CYCLE,
    PROGRESS_EVERY_CYCLES,
    WORKFLOW_LISTS_PER_CYCLE,
)
from airflow_provider_sixtyfour.triggers.run_poller import PollerKey, RunPoller
from airflow_provider_sixtyfour.triggers.updates import (
    DEADLINE_REACHED,
    DeadlineReached,
    Failed,
    Finished,
    Listed,
    ListUpdate,
    Progress,
    Retrying,
    Update,
)

#: How long a resolved connection fingerprint is reused before the connection is read again.
FINGERPRINT_TTL = 60.0


@dataclass
class LoopPollers:
    """The pollers of one event loop, and the connection fingerprints recently resolved in it."""

    pollers: dict[PollerKey, RunPoller] = field(default_factory=dict)
    fingerprints: dict[str, tuple[float, asyncio.Task[str]]] = field(default_factory=dict)

    def running(self) -> list[RunPoller]:
        """The pollers of this loop that have not stopped."""
        with _registry_lock:
            return [p for p in self.pollers.values() if not p.stopped]

    def forget(self, poller: RunPoller) -> None:
        """Drop ``poller`` (it stopped)."""
        with _registry_lock:
            if self.pollers.get(poller.key) is poller:
                del self.pollers[poller.key]


_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopPollers] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def loop_pollers(loop: asyncio.AbstractEventLoop | None = None) -> LoopPollers:
    """The registry entry of ``loop`` (default: the running loop), created on first use."""
    loop = loop or asyncio.get_running_loop()
    with _registry_lock:
        entry = _registry.get(loop)
        if entry is None:
            entry = _registry[loop] = LoopPollers()
        return entry


def connection_fingerprint(base_url: str, api_key: str) -> str:
    """A one-way digest of where a connection points and with which key (never the key itself)."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\0{api_key}".encode()).hexdigest()[:32]


async def _resolve_fingerprint(conn_id: str) -> str:
    from airflow_provider_sixtyfour.hooks.settings import aload_settings

    settings = await aload_settings(conn_id)
    return connection_fingerprint(settings.base_url, settings.api_key)


async def _fingerprint(entry: LoopPollers, conn_id: str) -> str:
    """The connection's fingerprint; concurrent callers share one lookup, reused for a minute.

    The lookup runs as its own task, so a caller being cancelled never cancels it for the others.
    """
    now = time.monotonic()
    cached = entry.fingerprints.get(conn_id)
    if cached is None or (cached[1].done() and (now - cached[0] >= FINGERPRINT_TTL or _failed(cached[1]))):
        task = contextvars.Context().run(asyncio.get_running_loop().create_task, _resolve_fingerprint(conn_id))
        cached = entry.fingerprints[conn_id] = (now, task)
    return await asyncio.shield(cached[1])


def _failed(task: asyncio.Task[str]) -> bool:
    return task.cancelled() or task.exception() is not None


async def _poller_for(conn_id: str) -> RunPoller:
    """The running event loop's poller of ``conn_id`` (reading the connection without blocking the loop,
    to tell a changed key from the old one), started if there is none. Raises what reading it raises."""
    entry = loop_pollers()
    fingerprint = await _fingerprint(entry, conn_id)
    key = PollerKey(conn_id, fingerprint)
    with _registry_lock:
        poller = entry.pollers.get(key)
        if poller is None or poller.stopped:
            poller = entry.pollers[key] = RunPoller(key, on_stop=entry.forget)
    return poller


async def subscribe_run(conn_id: str, job_id: str, interval: float) -> Subscription:
    """Watch ``job_id`` through the shared poller of ``conn_id`` in the running event loop."""
    return (await _poller_for(conn_id)).subscribe(job_id, interval)


async def subscribe_runs_list(conn_id: str, workflow_ids: Iterable[str], interval: float) -> ListSubscription:
    """Get the runs of ``workflow_ids`` (every status) from each cycle of the shared poller of ``conn_id``."""
    return (await _poller_for(conn_id)).subscribe_list(workflow_ids, interval)


__all__ = [
    "DEADLINE_REACHED",
    "DIRECT_MAX_RUNS",
    "FALLBACK_CALLS_PER_CYCLE",
    "FINGERPRINT_TTL",
    "PROGRESS_CALLS_PER_CYCLE",
    "PROGRESS_EVERY_CYCLES",
    "WORKFLOW_LISTS_PER_CYCLE",
    "DeadlineReached",
    "Failed",
    "Finished",
    "ListSubscription",
    "ListUpdate",
    "Listed",
    "LoopPollers",
    "PollerKey",
    "Progress",
    "Retrying",
    "RunPoller",
    "Subscription",
    "Update",
    "connection_fingerprint",
    "loop_pollers",
    "subscribe_run",
    "subscribe_runs_list",
]
