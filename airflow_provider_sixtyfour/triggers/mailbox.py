"""Subscriptions: where the shared poller puts updates and a trigger awaits them; no I/O.

A triggerer may hold thousands of subscriptions, and every object they keep alive lengthens the
garbage collector's pauses, so a mailbox is a slot for one pending update (a list only when more pile
up) and, while its trigger waits, one future: lighter than an ``asyncio.Queue``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, Generic, Protocol, TypeVar

from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord
from airflow_provider_sixtyfour.triggers.plan import RunState
from airflow_provider_sixtyfour.triggers.updates import ListUpdate, Progress, Update

U = TypeVar("U", Update, ListUpdate)

_EMPTY: Any = object()


class Owner(Protocol):
    """What a mailbox tells when its subscriber leaves (the poller): one reference, not a bound method."""

    def remove(self, sub: Any) -> None: ...


class Mailbox(Generic[U]):
    """Where the poller :meth:`put` s updates and a trigger :meth:`get` s them, in order.

    :param interval: the poll interval the subscriber asked for; the poller cycles at the shortest one.
    :param owner: its ``remove`` is called once with the mailbox when the subscriber :meth:`unsubscribe` s.
    """

    __slots__ = ("_first", "_more", "_owner", "_waiter", "closed", "interval")

    def __init__(self, interval: float, owner: Owner | None = None) -> None:
        self.interval = interval
        self.closed = False
        self._first: Any = _EMPTY
        self._more: list[U] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._owner = owner

    @property
    def pending(self) -> int:
        """How many updates wait to be read."""
        if self._first is _EMPTY:
            return 0
        return 1 + (len(self._more) if self._more else 0)

    def put(self, update: U) -> None:
        """Hand an update to the subscriber (never blocks)."""
        if self._first is _EMPTY:
            self._first = update
        elif self._more is None:
            self._more = [update]
        else:
            self._more.append(update)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> U:
        """The next update, waiting for one if none is pending."""
        while self._first is _EMPTY:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        update: U = self._first
        if self._more:
            self._first = self._more.pop(0)
        else:
            self._first, self._more = _EMPTY, None
        return update

    def unsubscribe(self) -> None:
        """Stop watching; the poller stops when its last subscription leaves. Safe to call twice."""
        if self.closed:
            return
        self.closed = True
        self._first, self._more = _EMPTY, None
        owner, self._owner = self._owner, None
        if owner is not None:
            owner.remove(self)


class Subscription(Mailbox[Update]):
    """One trigger's interest in one run.

    :param job_id: the run watched.
    :param interval: the poll interval the trigger asked for; the poller cycles at the shortest one.
    :param owner: told once when the trigger unsubscribes (the poller, which forgets it).
    """

    __slots__ = ("job_id",)

    def __init__(self, job_id: str, interval: float, owner: Owner | None = None) -> None:
        super().__init__(interval, owner)
        self.job_id = job_id


class ListSubscription(Mailbox[ListUpdate]):
    """A run-event watcher's interest in every run of some workflows: it gets one ``Listed`` per cycle.

    :param workflow_ids: the workflows whose runs it gets.
    :param interval: the poll interval the watcher asked for; the poller cycles at the shortest one.
    :param owner: told once when the watcher unsubscribes (the poller, which forgets it).
    """

    __slots__ = ("workflow_ids",)

    def __init__(self, workflow_ids: Iterable[str], interval: float, owner: Owner | None = None) -> None:
        super().__init__(interval, owner)
        self.workflow_ids = frozenset(workflow_ids)


class WatchedRun(RunState):
    """A watched run and the subscriptions it fans updates out to (usually one: then no container)."""

    __slots__ = ("first", "others")

    def __init__(self, job_id: str, first: Subscription) -> None:
        super().__init__(job_id)
        self.first: Subscription | None = first
        self.others: list[Subscription] | None = None

    def add(self, sub: Subscription) -> None:
        """Fan updates out to ``sub`` too."""
        if self.first is None:
            self.first = sub
        elif self.others is None:
            self.others = [sub]
        else:
            self.others.append(sub)

    def discard(self, sub: Subscription) -> bool:
        """Forget ``sub``; True when no subscription is left."""
        if self.first is sub:
            self.first = self.others.pop(0) if self.others else None
        elif self.others is not None and sub in self.others:
            self.others.remove(sub)
        if not self.others:
            self.others = None
        return self.first is None

    def send(self, update: Update) -> None:
        """Hand ``update`` to every subscription of the run."""
        if self.first is not None:
            self.first.put(update)
        if self.others:
            for sub in self.others:
                sub.put(update)

    def progress(self, record: LiveStatus | RunRecord) -> None:
        """Pass on a still-active record; a list record only when its status moved (queued to running)."""
        if isinstance(record, RunRecord):
            if record.status is self.last_listed_status:
                return
            self.last_listed_status = record.status
        self.send(Progress(record))
