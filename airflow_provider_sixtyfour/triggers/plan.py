"""What the shared poller asks each cycle, decided without I/O: :func:`plan`.

The poller (:mod:`airflow_provider_sixtyfour.triggers.run_poller`) is a thin driver: it sends the
list calls and ``live_status`` calls that :func:`plan` names, and hands back the listings it got. The
policy has three tiers, cheapest first:

1. one organisation-wide list (``GET /workflows/runs?status=active``, or every status while a run-event
   watcher listens) answers for every watched run it shows, and for every run it proves has left;
2. when that list is cut at its limit, per-workflow active lists (:data:`WORKFLOW_LISTS_PER_CYCLE` at
   most) for the runs it cannot vouch for;
3. ``live_status`` for runs that left the active set (their final record), for the runs even those
   lists cannot vouch for (:data:`FALLBACK_CALLS_PER_CYCLE` at most), and for progress, at a bounded
   rate: a run at most once every :data:`PROGRESS_EVERY_CYCLES` cycles, at most
   :data:`PROGRESS_CALLS_PER_CYCLE` runs a cycle.

With at most :data:`DIRECT_MAX_RUNS` runs watched (and no watcher), ``live_status`` alone is as cheap.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

from airflow_provider_sixtyfour.protocol.models import RunRecord
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

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

_NEVER = -(10**9)


@dataclass(slots=True)
class RunState:
    """What the poller knows about one watched run (the cycles are the poller's cycle numbers)."""

    job_id: str
    workflow_id: str | None = None
    queued_at: datetime | None = None
    last_live_cycle: int = _NEVER
    last_checked_cycle: int = _NEVER
    last_listed_status: RunStatus | None = None


@dataclass
class Listing:
    """A run list as the API answered it, and how far it can vouch for a run's absence.

    :param records: the listed runs, newest ``queued_at`` first.
    :param limit: the ``limit`` the list was asked with: a list that long may have been cut.
    :param workflow_id: the workflow the list was cut to, or None for the organisation's list.
    """

    records: Sequence[RunRecord]
    limit: int
    workflow_id: str | None = None
    _oldest: datetime | None = field(default=None, init=False, repr=False)
    _oldest_known: bool = field(default=False, init=False, repr=False)

    @property
    def complete(self) -> bool:
        """True when the list was not cut at its limit."""
        return len(self.records) < self.limit

    @property
    def oldest_queued(self) -> datetime | None:
        """The oldest ``queued_at`` in the list (None when no record has one)."""
        if not self._oldest_known:
            stamps = [r.queued_at for r in self.records if r.queued_at is not None]
            self._oldest, self._oldest_known = (min(stamps) if stamps else None), True
        return self._oldest

    def proves_absent(self, run: RunState) -> bool:
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


S = TypeVar("S", bound="RunState")


@dataclass(frozen=True)
class CyclePlan(Generic[S]):
    """The rest of one cycle, as :func:`plan` decided it.

    :param workflow_lists: per-workflow active lists to ask first; then call :func:`plan` again with
        their listings added and ``workflows_listed=True``. When not empty, the other fields are empty.
    :param progress: each run listed as still active, with the record that says so.
    :param live: the runs to ask ``live_status`` for, in this order.
    """

    workflow_lists: tuple[str, ...] = ()
    progress: tuple[tuple[S, RunRecord], ...] = ()
    live: tuple[S, ...] = ()


def needs_active_list(runs: int, listed: bool, direct_only: bool) -> bool:
    """Whether the cycle asks the organisation's active list (it has no list of every status yet)."""
    return not direct_only and not listed and runs > DIRECT_MAX_RUNS


def learn(runs: Mapping[str, RunState], records: Iterable[RunRecord]) -> None:
    """Note each watched run's workflow and ``queued_at`` from list records (what proves absence needs)."""
    for record in records:
        state = runs.get(record.job_id)
        if state is not None:
            state.workflow_id = record.workflow_id
            state.queued_at = record.queued_at or state.queued_at


def plan(
    runs: Sequence[S],
    listings: Sequence[Listing],
    cycle: int,
    listed_at: Mapping[str, int],
    *,
    workflows_listed: bool = False,
) -> CyclePlan[S]:
    """The calls that finish this cycle, from the watched ``runs`` and the cycle's ``listings`` so far.

    No listing means per-run polling: every run gets ``live_status``. Otherwise a run is active when a
    listing shows it active (its record is passed on as progress), has left when a listing shows it
    ended or proves it absent (its final record is read), and is unresolved otherwise: per-workflow
    lists are planned for the unresolved first (unless ``workflows_listed``), then the least recently
    checked of them get ``live_status``.

    :param cycle: the poller's cycle number (its clock).
    :param listed_at: workflow id to the cycle of its last per-workflow list (the choice rotates).
    """
    if not listings:
        return CyclePlan(live=tuple(runs))
    seen: dict[str, RunRecord] = {}
    listed: set[str] = set()
    for listing in listings:
        for record in listing.records:
            listed.add(record.job_id)
            if record.status.is_active:
                seen[record.job_id] = record
    unresolved = [
        s for s in runs if s.job_id not in listed and not any(listing.proves_absent(s) for listing in listings)
    ]
    if unresolved and not workflows_listed:
        chosen = choose_workflows(unresolved, runs, listed_at)
        if chosen:
            return CyclePlan(workflow_lists=chosen)
    unresolved_ids = {s.job_id for s in unresolved}
    left = [s for s in runs if s.job_id not in seen and s.job_id not in unresolved_ids]
    active = [s for s in runs if s.job_id in seen]
    fallback = sorted(unresolved, key=lambda s: s.last_checked_cycle)[:FALLBACK_CALLS_PER_CYCLE]
    due = [s for s in active if cycle - s.last_live_cycle >= PROGRESS_EVERY_CYCLES]
    progress = sorted(due, key=lambda s: s.last_live_cycle)[:PROGRESS_CALLS_PER_CYCLE]
    return CyclePlan(
        progress=tuple((s, seen[s.job_id]) for s in active),
        live=(*left, *fallback, *progress),
    )


def choose_workflows(
    unresolved: Sequence[RunState], runs: Sequence[RunState], listed_at: Mapping[str, int]
) -> tuple[str, ...]:
    """The workflows whose active lists could vouch for ``unresolved`` runs, at most the cap per cycle.

    Workflows known to hold unresolved runs come first, then the least recently listed: with more
    workflows than the cap, each still gets its turn. A run whose workflow is not known yet makes the
    workflows of the other watched runs candidates (the best guess).
    """
    wanted: dict[str, int] = {}
    for state in unresolved:
        if state.workflow_id:
            wanted[state.workflow_id] = wanted.get(state.workflow_id, 0) + 1
    if any(s.workflow_id is None for s in unresolved):
        for state in runs:
            if state.workflow_id:
                wanted.setdefault(state.workflow_id, 0)
    chosen = sorted(wanted, key=lambda w: (wanted[w] == 0, listed_at.get(w, -1)))
    return tuple(chosen[:WORKFLOW_LISTS_PER_CYCLE])
