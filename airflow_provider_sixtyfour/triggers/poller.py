"""One status poller per connection and event loop, shared by every run trigger of that connection.

Polling each run on its own costs one request per run per interval (1,000 runs every 5 s is 12,000
requests a minute, against a limit of 500). The poller instead asks ``GET /workflows/runs?status=active``
once per cycle and learns from that single answer which watched runs are still queued or running. It
calls ``live_status`` only for:

* runs that left the active set, or are listed as ended in a status it does not know (to read their
  final record: completed, failed, cancelled, or ended that other way);
* runs the list cannot vouch for when it is truncated at 500 entries (after per-workflow lists);
* progress, at a bounded rate: a run at most once every :data:`PROGRESS_EVERY_CYCLES` cycles, and at
  most :data:`PROGRESS_CALLS_PER_CYCLE` runs per cycle.

A poller belongs to one event loop (the triggerer runs all triggers in one loop; tests may run several
loops) and one connection, identified by its id *and* a fingerprint of its base URL and key, so a
rotated key gets a new poller. It holds one :class:`SixtyfourAsyncHook` (one HTTP client) for its life,
starts with its first subscriber and stops when the last one leaves.

Run-event watchers (:class:`ListSubscription`) need every run of their workflows that ended, not only
the active ones: while one listens, the cycle's single list call asks for every status
(``GET /workflows/runs?limit=500``), the watchers get its records, and the run triggers read the active
ones from the same answer. So one list call per cycle serves every watcher and every deferred task.

Everything a trigger should log reaches it through its :class:`Subscription`, so the line is written
from the trigger's own task, where Airflow routes it to that task's log.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_sixtyfour.protocol.endpoints import LIST_LIMIT_MAX
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourApiError,
    SixtyfourError,
    is_transient,
)
from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

log = logging.getLogger(__name__)

#: Watched runs at or below this count are polled with ``live_status`` directly: one call per run
#: costs no more than one list call, and it brings progress and the final record at once.
DIRECT_MAX_RUNS = 1
#: A run gets a progress ``live_status`` at most once every this many cycles...
PROGRESS_EVERY_CYCLES = 2
#: ...and at most this many runs get one per cycle, whatever the number of runs.
PROGRESS_CALLS_PER_CYCLE = 3
#: When the active list is truncated: per-workflow active lists asked per cycle, at most.
WORKFLOW_LISTS_PER_CYCLE = 16
#: When even those cannot vouch for a run: per-run ``live_status`` calls per cycle, at most.
FALLBACK_CALLS_PER_CYCLE = 8
#: Requests in flight at once for ``live_status`` calls of one cycle (below the hook's pool of 20).
CONCURRENT_CALLS = 16
#: Updates handed to subscribers before the poller lets the event loop run them: thousands of
#: triggers woken in one loop iteration would stall every other trigger for that long.
DISPATCH_BATCH = 200
#: Longest wait between cycles after repeated failures of the list call.
MAX_ERROR_WAIT = 60.0
#: How long a resolved connection fingerprint is reused before the connection is read again.
FINGERPRINT_TTL = 60.0


@dataclass(frozen=True)
class PollerKey:
    """Identifies a poller within one event loop: the connection id and what it resolves to."""

    conn_id: str
    fingerprint: str = field(repr=False)


@dataclass(frozen=True)
class Progress:
    """The run is still queued or running; ``record`` is what the poller last learned about it."""

    record: LiveStatus | RunRecord


@dataclass(frozen=True)
class Finished:
    """The run reached a terminal status; ``status`` is its final live status."""

    status: LiveStatus


@dataclass(frozen=True)
class Failed:
    """The run cannot be watched (401/403/404, a bad id, a missing connection, ...)."""

    error: BaseException


@dataclass(frozen=True)
class Retrying:
    """A status poll failed with a transient error; the poller tries again in ``retry_in`` seconds."""

    error: BaseException
    retry_in: float


@dataclass(frozen=True)
class DeadlineReached:
    """Put on the queue by the subscriber's own timer (never by the poller) when its deadline is due."""


@dataclass(frozen=True)
class Listed:
    """One cycle's run list (every status), cut to the runs of a :class:`ListSubscription`'s workflows.

    :param records: the listed runs of those workflows, newest ``queued_at`` first.
    :param complete: the list held every run of the organisation (it was not cut at its limit).
    :param oldest_queued: the oldest ``queued_at`` in the whole list: when not ``complete``, a run
        queued before it may be missing.
    """

    records: tuple[RunRecord, ...]
    complete: bool
    oldest_queued: datetime | None


Update = Progress | Finished | Failed | Retrying | DeadlineReached
ListUpdate = Listed | Failed | Retrying
U = TypeVar("U", Update, ListUpdate)


class _Mailbox(Generic[U]):
    """Where the poller :meth:`put` s :data:`Update` items and a trigger :meth:`get` s them.

    Lighter than an ``asyncio.Queue`` (a deque and, while waiting, one future): a triggerer may hold
    thousands, and every object they keep alive lengthens the garbage collector's pauses.
    """

    __slots__ = ("_pending", "_poller", "_waiter", "closed", "interval")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.closed = False
        self._pending: deque[U] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._poller: RunPoller | None = None

    def put(self, update: U) -> None:
        """Hand an update to the subscriber (never blocks)."""
        self._pending.append(update)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> U:
        """The next update, waiting for one if none is pending."""
        while not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._pending.popleft()

    def unsubscribe(self) -> None:
        """Stop watching; the poller stops when its last subscription leaves. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self._pending.clear()
        if self._poller is not None:
            self._poller.remove(self)


class Subscription(_Mailbox[Update]):
    """One trigger's interest in one run.

    :param job_id: the run watched.
    :param interval: the poll interval the trigger asked for; the poller cycles at the shortest one.
    """

    __slots__ = ("job_id",)

    def __init__(self, job_id: str, interval: float) -> None:
        super().__init__(interval)
        self.job_id = job_id


class ListSubscription(_Mailbox[ListUpdate]):
    """A run-event watcher's interest in every run of some workflows: it gets one :class:`Listed` per cycle.

    :param workflow_ids: the workflows whose runs it gets.
    :param interval: the poll interval the watcher asked for; the poller cycles at the shortest one.
    """

    __slots__ = ("workflow_ids",)

    def __init__(self, workflow_ids: Iterable[str], interval: float) -> None:
        super().__init__(interval)
        self.workflow_ids = frozenset(workflow_ids)


@dataclass(slots=True)
class _RunState:
    """What the poller knows about one watched run."""

    job_id: str
    subscriptions: set[Subscription] = field(default_factory=set)
    workflow_id: str | None = None
    queued_at: datetime | None = None
    last_live_cycle: int = -(10**9)
    last_checked: float = 0.0
    last_listed_status: RunStatus | None = None

    def send(self, update: Update) -> None:
        for sub in self.subscriptions:
            sub.put(update)

    def progress(self, record: LiveStatus | RunRecord) -> None:
        """Pass on a still-active record; a list record only when its status moved (queued to running)."""
        if isinstance(record, RunRecord):
            if record.status is self.last_listed_status:
                return
            self.last_listed_status = record.status
        self.send(Progress(record))


@dataclass
class _Listing:
    """An active-runs list and how far it can vouch for a run's absence."""

    records: list[RunRecord]
    limit: int
    workflow_id: str | None = None

    @property
    def complete(self) -> bool:
        return len(self.records) < self.limit

    @cached_property
    def oldest_queued(self) -> datetime | None:
        stamps = [r.queued_at for r in self.records if r.queued_at is not None]
        return min(stamps) if stamps else None

    def proves_absent(self, run: _RunState) -> bool:
        """True when ``run``, missing from this list, is certainly no longer active.

        The API lists runs newest ``queued_at`` first, so a truncated list is still complete for every
        run queued after its oldest entry.
        """
        if self.workflow_id is not None and run.workflow_id != self.workflow_id:
            return False
        if self.complete:
            return True
        oldest = self.oldest_queued
        if run.queued_at is None or oldest is None:
            return False
        try:
            return run.queued_at > oldest
        except TypeError:  # naive vs aware timestamps: cannot compare, so cannot vouch
            return False


class RunPoller:
    """Polls every run watched on one connection in one event loop, with one async hook.

    :param key: the connection this poller serves.
    :param on_stop: called once when the poller stops (the registry forgets it).
    """

    def __init__(self, key: PollerKey, on_stop: Callable[[RunPoller], None] | None = None) -> None:
        self.key = key
        self._on_stop = on_stop
        self._subscriptions: set[Subscription] = set()
        self._listeners: set[ListSubscription] = set()
        self._runs: dict[str, _RunState] = {}  # the runs still polled
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._direct_only = False
        self._cycle = 0
        self._failures = 0
        self._listed_at: dict[str, int] = {}  # workflow id -> cycle of its last per-workflow list

    @property
    def stopped(self) -> bool:
        """True once the poller has stopped (no subscribers left, or it could not start)."""
        return self._stopped

    def subscribe(self, job_id: str, interval: float) -> Subscription:
        """Watch ``job_id``; starts the polling task on the first subscription."""
        if self._stopped:
            raise RuntimeError("this poller has stopped; get a fresh one from subscribe_run()")
        sub = Subscription(job_id, interval)
        sub._poller = self
        self._subscriptions.add(sub)
        state = self._runs.get(job_id)
        if state is None:
            state = self._runs[job_id] = _RunState(job_id)
        state.subscriptions.add(sub)
        self._start()
        return sub

    def subscribe_list(self, workflow_ids: Iterable[str], interval: float) -> ListSubscription:
        """Get every cycle's run list, cut to ``workflow_ids``; starts the polling task if needed."""
        if self._stopped:
            raise RuntimeError("this poller has stopped; get a fresh one from subscribe_runs_list()")
        sub = ListSubscription(workflow_ids, interval)
        sub._poller = self
        self._listeners.add(sub)
        self._start()
        return sub

    def _start(self) -> None:
        if self._task is None:
            # A fresh context: the task must not inherit the first trigger's logging context, or
            # Airflow would write the poller's own lines into that one task's log.
            self._task = contextvars.Context().run(asyncio.get_running_loop().create_task, self._run())

    def remove(self, sub: _Mailbox[Any]) -> None:
        """Drop a subscription; stops the poller when none is left."""
        if isinstance(sub, ListSubscription):
            self._listeners.discard(sub)
        elif isinstance(sub, Subscription):
            self._subscriptions.discard(sub)
            state = self._runs.get(sub.job_id)
            if state is not None:
                state.subscriptions.discard(sub)
                if not state.subscriptions:
                    del self._runs[sub.job_id]
        if not self._subscriptions and not self._listeners:
            self._stop()

    def _stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self._on_stop is not None:
            self._on_stop(self)
        if self._task is not None and not self._task.done() and self._task is not asyncio.current_task():
            self._task.cancel()

    def _interval(self) -> float:
        intervals = [sub.interval for sub in self._subscriptions] + [sub.interval for sub in self._listeners]
        return min(intervals, default=5.0)

    async def _run(self) -> None:
        try:
            from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

            async with SixtyfourAsyncHook(sixtyfour_conn_id=self.key.conn_id) as hook:
                while True:
                    started = time.monotonic()
                    interval = self._interval()
                    wait = interval
                    if self._runs or self._listeners:
                        try:
                            await self._poll(hook)
                            self._failures = 0
                        except Exception as err:
                            wait = self._after_failure(err, interval)
                    self._cycle += 1
                    await asyncio.sleep(max(0.0, wait - (time.monotonic() - started)))
        except Exception as err:
            # The hook could not even be opened (no such connection, bad extras): nobody can be watched.
            log.warning("Sixtyfour status poller for connection %r could not start: %s", self.key.conn_id, err)
            self._stop()
            self._fail_all(err)

    def _fail_all(self, err: BaseException) -> None:
        for state in list(self._runs.values()):
            state.send(Failed(err))
        self._runs.clear()
        self._fail_listeners(err)

    def _fail_listeners(self, err: BaseException) -> None:
        for sub in list(self._listeners):
            sub.put(Failed(err))
        self._listeners.clear()

    def _after_failure(self, err: Exception, interval: float) -> float:
        """Decide what a failed cycle means; returns the wait before the next one."""
        if is_transient(err):
            self._failures += 1
            # The hook already retried this call; the poller waits an interval, then doubles the wait.
            wait = min(interval * 2 ** min(self._failures - 1, 6), max(interval, MAX_ERROR_WAIT))
            log.warning(
                "Sixtyfour status poll for connection %r failed (%s); retrying in %.1f s",
                self.key.conn_id,
                err,
                wait,
            )
            for state in self._runs.values():
                state.send(Retrying(err, wait))
            for sub in self._listeners:
                sub.put(Retrying(err, wait))
            return wait
        if isinstance(err, SixtyfourApiError) and err.status_code != 401 and not self._direct_only:
            # The list endpoint is refused (403 feature, 404, 422) while per-run status may still work:
            # fall back to per-run polling rather than giving up on every run.
            log.warning(
                "Sixtyfour run list unusable for connection %r (%s); polling each run's live status instead",
                self.key.conn_id,
                err,
            )
            self._direct_only = True
            self._fail_listeners(err)  # a watcher has nothing to fall back on: it needs the list
            return 0.0
        if not isinstance(err, SixtyfourError):
            log.error("Sixtyfour status poller for connection %r failed", self.key.conn_id, exc_info=err)
        self._fail_all(err)
        return interval

    async def _poll(self, hook: SixtyfourAsyncHook) -> None:
        runs = list(self._runs.values())
        listing: _Listing | None = None
        if self._listeners and not self._direct_only:
            listing = await self._list(hook, None, status=None)
            self._announce(listing)
        if not runs:
            return
        if self._direct_only or (listing is None and len(runs) <= DIRECT_MAX_RUNS):
            await self._fetch_live(hook, runs)
            return
        if listing is None:
            listing = await self._list(hook, None)
        # A list of every status (for watchers) also names runs that ended: those have left.
        listed = {r.job_id for r in listing.records}
        seen: dict[str, RunRecord] = {r.job_id: r for r in listing.records if r.status.is_active}
        self._learn(listing.records)
        unresolved = [s for s in runs if s.job_id not in listed and not listing.proves_absent(s)]
        if unresolved:
            for extra in await self._workflow_listings(hook, unresolved, runs):
                self._learn(extra.records)
                seen.update((r.job_id, r) for r in extra.records if r.status.is_active)
                unresolved = [s for s in unresolved if s.job_id not in seen and not extra.proves_absent(s)]
        unresolved_ids = {s.job_id for s in unresolved}
        left = [s for s in runs if s.job_id not in seen and s.job_id not in unresolved_ids]
        active = [s for s in runs if s.job_id in seen]
        for index, state in enumerate(active, 1):
            state.progress(seen[state.job_id])
            if index % DISPATCH_BATCH == 0:
                await asyncio.sleep(0)
        fallback = sorted(unresolved, key=lambda s: s.last_checked)[:FALLBACK_CALLS_PER_CYCLE]
        due = [s for s in active if self._cycle - s.last_live_cycle >= PROGRESS_EVERY_CYCLES]
        progress = sorted(due, key=lambda s: s.last_live_cycle)[:PROGRESS_CALLS_PER_CYCLE]
        await self._fetch_live(hook, [*left, *fallback, *progress])

    async def _list(self, hook: SixtyfourAsyncHook, workflow_id: str | None, status: str | None = "active") -> _Listing:
        records = await hook.list_runs(status=status, workflow_id=workflow_id, limit=LIST_LIMIT_MAX)
        return _Listing(records, LIST_LIMIT_MAX, workflow_id)

    def _announce(self, listing: _Listing) -> None:
        """Hand each watcher the runs of its workflows in this cycle's list of every status."""
        for sub in self._listeners:
            records = tuple(r for r in listing.records if r.workflow_id in sub.workflow_ids)
            sub.put(Listed(records, listing.complete, listing.oldest_queued))

    async def _workflow_listings(
        self, hook: SixtyfourAsyncHook, unresolved: list[_RunState], runs: list[_RunState]
    ) -> list[_Listing]:
        """Per-workflow active lists for the runs a truncated org-wide list could not vouch for."""
        wanted: dict[str, int] = {}
        for state in unresolved:
            if state.workflow_id:
                wanted[state.workflow_id] = wanted.get(state.workflow_id, 0) + 1
        if any(s.workflow_id is None for s in unresolved):
            # Their workflow is unknown yet: the workflows of the other watched runs are the best guess.
            for state in runs:
                if state.workflow_id:
                    wanted.setdefault(state.workflow_id, 0)
        # Workflows known to hold unresolved runs first, then the least recently listed: with more
        # workflows than the cap, each still gets its turn.
        chosen = sorted(wanted, key=lambda w: (wanted[w] == 0, self._listed_at.get(w, -1)))
        chosen = chosen[:WORKFLOW_LISTS_PER_CYCLE]
        for workflow_id in chosen:
            self._listed_at[workflow_id] = self._cycle
        results = await asyncio.gather(*(self._list(hook, w) for w in chosen), return_exceptions=True)
        listings: list[_Listing] = []
        for workflow_id, result in zip(chosen, results, strict=True):
            if isinstance(result, _Listing):
                listings.append(result)
            elif isinstance(result, Exception) and is_transient(result):
                log.info("Active runs of workflow %s could not be listed this cycle: %s", workflow_id, result)
            elif isinstance(result, BaseException):
                raise result
        return listings

    def _learn(self, records: Iterable[RunRecord]) -> None:
        for record in records:
            state = self._runs.get(record.job_id)
            if state is not None:
                state.workflow_id = record.workflow_id
                state.queued_at = record.queued_at or state.queued_at

    async def _fetch_live(self, hook: SixtyfourAsyncHook, states: list[_RunState]) -> None:
        if not states:
            return
        limiter = asyncio.Semaphore(CONCURRENT_CALLS)

        async def one(state: _RunState) -> None:
            async with limiter:
                if self._runs.get(state.job_id) is not state:
                    return
                state.last_checked = time.monotonic()
                try:
                    status = await hook.get_live_status(state.job_id)
                except Exception as err:
                    self._live_failed(state, err)
                    return
            self._deliver(state, status)

        await asyncio.gather(*(one(s) for s in states))

    def _live_failed(self, state: _RunState, err: Exception) -> None:
        if is_transient(err):
            log.info("Live status of Sixtyfour run %s failed (%s); asking again next cycle", state.job_id, err)
            state.send(Retrying(err, self._interval()))
            return
        # 401/403/404 or a bad id: this run cannot be watched; the trigger ends with an error event.
        if not isinstance(err, SixtyfourError):
            log.error("Live status of Sixtyfour run %s failed unexpectedly", state.job_id, exc_info=err)
        self._runs.pop(state.job_id, None)
        state.send(Failed(err))

    def _deliver(self, state: _RunState, status: LiveStatus) -> None:
        state.workflow_id = status.workflow_id or state.workflow_id
        state.last_live_cycle = self._cycle
        if status.has_ended:
            if self._runs.get(state.job_id) is state:
                del self._runs[state.job_id]
            state.send(Finished(status))
        else:
            state.progress(status)


# --------------------------------------------------------------------------------------------------
# The registry: one poller per (event loop, connection id, connection fingerprint)
# --------------------------------------------------------------------------------------------------


@dataclass
class _LoopPollers:
    """The pollers of one event loop, and the connection fingerprints recently resolved in it."""

    pollers: dict[PollerKey, RunPoller] = field(default_factory=dict)
    fingerprints: dict[str, tuple[float, asyncio.Task[str]]] = field(default_factory=dict)

    def forget(self, poller: RunPoller) -> None:
        with _registry_lock:
            if self.pollers.get(poller.key) is poller:
                del self.pollers[poller.key]


_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopPollers] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def _loop_pollers(loop: asyncio.AbstractEventLoop) -> _LoopPollers:
    with _registry_lock:
        entry = _registry.get(loop)
        if entry is None:
            entry = _registry[loop] = _LoopPollers()
        return entry


def connection_fingerprint(base_url: str, api_key: str) -> str:
    """A one-way digest of where a connection points and with which key (never the key itself)."""
    return hashlib.sha256(f"{base_url.rstrip('/')}\0{api_key}".encode()).hexdigest()[:32]


async def _resolve_fingerprint(conn_id: str) -> str:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

    settings = await SixtyfourAsyncHook(sixtyfour_conn_id=conn_id).get_settings()
    return connection_fingerprint(settings.base_url, settings.api_key)


async def _fingerprint(entry: _LoopPollers, conn_id: str) -> str:
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
    entry = _loop_pollers(asyncio.get_running_loop())
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


def active_pollers() -> list[RunPoller]:
    """The pollers of the running event loop (for tests and benchmarks)."""
    entry = _loop_pollers(asyncio.get_running_loop())
    with _registry_lock:
        return list(entry.pollers.values())
