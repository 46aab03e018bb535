"""What the shared poller hands to a trigger: one small frozen record per thing that happened; no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord


@dataclass(frozen=True, slots=True)
class Progress:
    """The run is still queued or running; ``record`` is what the poller last learned about it."""

    record: LiveStatus | RunRecord


@dataclass(frozen=True, slots=True)
class Finished:
    """The run reached a terminal status; ``live`` is its final live status."""

    live: LiveStatus


@dataclass(frozen=True, slots=True)
class Failed:
    """The run cannot be watched (401/403/404, a bad id, a missing connection, ...)."""

    error: BaseException


@dataclass(frozen=True, slots=True)
class Retrying:
    """A status poll failed with a transient error; the poller tries again in ``retry_in`` seconds."""

    error: BaseException
    retry_in: float


@dataclass(frozen=True, slots=True)
class DeadlineReached:
    """Put in a subscription by its deadline alarm (never by the poller) when the deadline is due."""


#: The one :class:`DeadlineReached` (it carries nothing, so every alarm can share it).
DEADLINE_REACHED = DeadlineReached()


@dataclass(frozen=True, slots=True)
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


#: What a run trigger's :class:`Subscription` receives.
Update = Progress | Finished | Failed | Retrying | DeadlineReached
#: What a run-event watcher's :class:`ListSubscription` receives.
ListUpdate = Listed | Failed | Retrying
