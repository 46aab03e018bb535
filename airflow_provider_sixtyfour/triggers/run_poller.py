"""The shared poller's driver: one task per connection and event loop that sends what :func:`plan` asks.

It holds one :class:`SixtyfourAsyncHook` (one HTTP client) for its life, starts with its first
subscriber and stops when the last one leaves. What to ask each cycle comes from
:mod:`~airflow_provider_sixtyfour.triggers.plan`, what a failure means from
:mod:`~airflow_provider_sixtyfour.triggers.failures`; this module only sends calls and hands the
answers to the subscriptions (:mod:`~airflow_provider_sixtyfour.triggers.mailbox`). Everything a
trigger should log reaches it through its subscription, so the line is written from the trigger's own
task, where Airflow routes it to that task's log.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_sixtyfour.protocol.endpoints import LIST_LIMIT_MAX
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, is_transient
from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord
from airflow_provider_sixtyfour.triggers.failures import Verdict, cycle_failed, live_failure_is_retried
from airflow_provider_sixtyfour.triggers.mailbox import ListSubscription, Mailbox, Subscription, WatchedRun
from airflow_provider_sixtyfour.triggers.plan import Listing, RunState, learn, needs_active_list, plan
from airflow_provider_sixtyfour.triggers.updates import Failed, Finished, Listed, Retrying

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

log = logging.getLogger(__name__)

#: Requests in flight at once for ``live_status`` calls of one cycle (below the hook's pool of 20).
CONCURRENT_CALLS = 16
#: Updates handed to subscribers before the poller lets the event loop run them: thousands of
#: triggers woken in one loop iteration would stall every other trigger for that long.
DISPATCH_BATCH = 200
#: The cycle interval when no subscriber asked for one.
DEFAULT_INTERVAL = 5.0


@dataclass(frozen=True)
class PollerKey:
    """Identifies a poller within one event loop: the connection id and what it resolves to."""

    conn_id: str
    fingerprint: str = field(repr=False)


class RunPoller:
    """Polls every run watched on one connection in one event loop, with one async hook.

    :param key: the connection this poller serves.
    :param on_stop: called once when the poller stops (the registry forgets it).
    """

    def __init__(self, key: PollerKey, on_stop: Callable[[RunPoller], None] | None = None) -> None:
        self.key = key
        self._on_stop = on_stop
        self._subscriptions = 0
        self._listeners: set[ListSubscription] = set()
        self._intervals: dict[float, int] = {}  # interval -> how many subscriptions asked for it
        self._runs: dict[str, WatchedRun] = {}  # the runs still polled
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self._direct_only = False
        self._cycle = 0
        self._failures = 0
        self._listed_at: dict[str, int] = {}  # workflow id -> cycle of its last per-workflow list
        # The records last cycle's lists brought, by job id: a run listed unchanged reuses its record.
        self._known: dict[str, RunRecord] = {}

    @property
    def stopped(self) -> bool:
        """True once the poller has stopped (no subscribers left, or it could not start)."""
        return self._stopped

    def subscribe(self, job_id: str, interval: float) -> Subscription:
        """Watch ``job_id``; starts the polling task on the first subscription."""
        if self._stopped:
            raise RuntimeError("this poller has stopped; get a fresh one from subscribe_run()")
        sub = Subscription(job_id, interval, self)
        self._subscriptions += 1
        self._count_interval(interval, 1)
        state = self._runs.get(job_id)
        if state is None:
            self._runs[job_id] = WatchedRun(job_id, sub)
        else:
            state.add(sub)
        self._start()
        return sub

    def subscribe_list(self, workflow_ids: Iterable[str], interval: float) -> ListSubscription:
        """Get every cycle's run list, cut to ``workflow_ids``; starts the polling task if needed."""
        if self._stopped:
            raise RuntimeError("this poller has stopped; get a fresh one from subscribe_runs_list()")
        sub = ListSubscription(workflow_ids, interval, self)
        self._listeners.add(sub)
        self._count_interval(interval, 1)
        self._start()
        return sub

    def _count_interval(self, interval: float, change: int) -> None:
        count = self._intervals.get(interval, 0) + change
        if count > 0:
            self._intervals[interval] = count
        else:
            self._intervals.pop(interval, None)

    def _start(self) -> None:
        if self._task is None:
            # A fresh context: the task must not inherit the first trigger's logging context, or
            # Airflow would write the poller's own lines into that one task's log.
            self._task = contextvars.Context().run(asyncio.get_running_loop().create_task, self._run())

    def remove(self, sub: Mailbox[Any]) -> None:
        """Drop a subscription (its ``unsubscribe`` calls this); stops the poller when none is left."""
        if isinstance(sub, ListSubscription):
            if sub in self._listeners:
                self._listeners.discard(sub)
                self._count_interval(sub.interval, -1)
        elif isinstance(sub, Subscription):
            self._subscriptions -= 1
            self._count_interval(sub.interval, -1)
            state = self._runs.get(sub.job_id)
            if state is not None and state.discard(sub):
                del self._runs[sub.job_id]
        if self._subscriptions <= 0 and not self._listeners:
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
        return min(self._intervals, default=DEFAULT_INTERVAL)

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
        """Act on a failed cycle as :func:`cycle_failed` decides; returns the wait before the next one."""
        decision = cycle_failed(err, self._failures + 1, interval, self._direct_only)
        if decision.verdict is Verdict.RETRY:
            self._failures += 1
            # The hook already retried this call; the poller waits an interval, then doubles the wait.
            log.warning(
                "Sixtyfour status poll for connection %r failed (%s); retrying in %.1f s",
                self.key.conn_id,
                err,
                decision.wait,
            )
            retrying = Retrying(err, decision.wait)
            for state in self._runs.values():
                state.send(retrying)
            for sub in self._listeners:
                sub.put(retrying)
        elif decision.verdict is Verdict.DIRECT:
            log.warning(
                "Sixtyfour run list unusable for connection %r (%s); polling each run's live status instead",
                self.key.conn_id,
                err,
            )
            self._direct_only = True
            self._fail_listeners(err)  # a watcher has nothing to fall back on: it needs the list
        else:
            if decision.unexpected:
                log.error("Sixtyfour status poller for connection %r failed", self.key.conn_id, exc_info=err)
            self._fail_all(err)
        return decision.wait

    async def _poll(self, hook: SixtyfourAsyncHook) -> None:
        listings: list[Listing] = []
        try:
            await self._poll_into(hook, listings)
        finally:
            self._known = {record.job_id: record for listing in listings for record in listing.records}

    async def _poll_into(self, hook: SixtyfourAsyncHook, listings: list[Listing]) -> None:
        """One cycle: the lists ``plan`` needs (appended to ``listings``), progress, then ``live_status``."""
        runs = list(self._runs.values())
        if self._listeners and not self._direct_only:
            listing = await self._list(hook, None, status=None)
            self._announce(listing)
            listings.append(listing)
        if not runs:
            return
        if needs_active_list(len(runs), bool(listings), self._direct_only):
            listings.append(await self._list(hook, None))
        for listing in listings:
            learn(self._runs, listing.records)
        step = plan(runs, listings, self._cycle, self._listed_at)
        if step.workflow_lists:
            for workflow_id in step.workflow_lists:
                self._listed_at[workflow_id] = self._cycle
            for extra in await self._workflow_listings(hook, step.workflow_lists):
                learn(self._runs, extra.records)
                listings.append(extra)
            step = plan(runs, listings, self._cycle, self._listed_at, workflows_listed=True)
        for index, (state, record) in enumerate(step.progress, 1):
            state.progress(record)
            if index % DISPATCH_BATCH == 0:
                await asyncio.sleep(0)
        await self._fetch_live(hook, step.live)

    async def _list(self, hook: SixtyfourAsyncHook, workflow_id: str | None, status: str | None = "active") -> Listing:
        records = await hook.list_runs(status=status, workflow_id=workflow_id, limit=LIST_LIMIT_MAX, reuse=self._known)
        return Listing(records, LIST_LIMIT_MAX, workflow_id)

    def _announce(self, listing: Listing) -> None:
        """Hand each watcher the runs of its workflows in this cycle's list of every status."""
        for sub in self._listeners:
            records = tuple(r for r in listing.records if r.workflow_id in sub.workflow_ids)
            sub.put(Listed(records, listing.complete, listing.oldest_queued))

    async def _workflow_listings(self, hook: SixtyfourAsyncHook, workflow_ids: tuple[str, ...]) -> list[Listing]:
        """Per-workflow active lists; one that fails transiently is skipped this cycle."""
        results = await asyncio.gather(*(self._list(hook, w) for w in workflow_ids), return_exceptions=True)
        listings: list[Listing] = []
        for workflow_id, result in zip(workflow_ids, results, strict=True):
            if isinstance(result, Listing):
                listings.append(result)
            elif isinstance(result, Exception) and is_transient(result):
                log.info("Active runs of workflow %s could not be listed this cycle: %s", workflow_id, result)
            elif isinstance(result, BaseException):
                raise result
        return listings

    async def _fetch_live(self, hook: SixtyfourAsyncHook, states: Sequence[RunState]) -> None:
        if not states:
            return
        limiter = asyncio.Semaphore(CONCURRENT_CALLS)

        async def one(state: RunState) -> None:
            async with limiter:
                watched = self._runs.get(state.job_id)
                if watched is None or watched is not state:
                    return
                watched.last_checked_cycle = self._cycle
                try:
                    status = await hook.get_live_status(watched.job_id)
                except Exception as err:
                    self._live_failed(watched, err)
                    return
            self._deliver(watched, status)

        await asyncio.gather(*(one(s) for s in states))

    def _live_failed(self, state: WatchedRun, err: Exception) -> None:
        if live_failure_is_retried(err):
            log.info("Live status of Sixtyfour run %s failed (%s); asking again next cycle", state.job_id, err)
            state.send(Retrying(err, self._interval()))
            return
        # 401/403/404 or a bad id: this run cannot be watched; the trigger ends with an error event.
        if not isinstance(err, SixtyfourError):
            log.error("Live status of Sixtyfour run %s failed unexpectedly", state.job_id, exc_info=err)
        self._runs.pop(state.job_id, None)
        state.send(Failed(err))

    def _deliver(self, state: WatchedRun, status: LiveStatus) -> None:
        state.workflow_id = status.workflow_id or state.workflow_id
        state.last_live_cycle = self._cycle
        if status.has_ended:
            if self._runs.get(state.job_id) is state:
                del self._runs[state.job_id]
            state.send(Finished(status))
        else:
            state.progress(status)
