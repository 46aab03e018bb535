"""Which ended runs a run-event watcher announces, and the watermark that makes that exactly once; no I/O.

A watcher sees runs through run lists (``GET /workflows/runs``, newest ``queued_at`` first). A run is
announced when a list shows it ended (:attr:`RunRecord.ended_status`) with one of the watched statuses,
and it ended after the watermark's ``floor`` and is not among the runs already announced. The floor
trails the newest end seen by :data:`GRACE`, so a run whose end the API reports a little late (or out
of order) is still announced once; announced runs are remembered until the floor passes them.

The watermark is plain JSON (:meth:`Watermark.to_json`), so it can live in Airflow's asset state store
and survive a triggerer restart: a new watcher resumes from it and announces the runs that ended while
no triggerer ran, and none twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.models import RunRecord, parse_timestamp
from airflow_provider_sixtyfour.protocol.redaction import redact_urls_in
from airflow_provider_sixtyfour.protocol.statuses import RunStatus, status_text

#: How far behind the newest end seen the floor trails: a run reported ended this late is still announced.
GRACE = timedelta(minutes=10)
#: The version of :meth:`Watermark.to_json`'s shape.
WATERMARK_VERSION = 1


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


@dataclass
class Watermark:
    """Where a watcher stands: runs that ended at or before ``floor`` are old, and ``announced`` ones are done.

    :param floor: the instant (UTC) at or before which an end is never announced.
    :param announced: job id to end time of each run announced after ``floor``.
    """

    floor: datetime
    announced: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def starting(cls, now: datetime) -> Watermark:
        """The watermark of a watcher that starts at ``now``: only runs ending later are announced."""
        return cls(floor=_utc(now))

    def is_new(self, job_id: str, ended_at: datetime) -> bool:
        """True when the run ending at ``ended_at`` has not been announced and ended after the floor."""
        return _utc(ended_at) > self.floor and job_id not in self.announced

    def announce(self, job_id: str, ended_at: datetime) -> None:
        """Remember that the run was announced."""
        self.announced[job_id] = _utc(ended_at)

    def advance(self, newest_end: datetime) -> None:
        """Move the floor to :data:`GRACE` before ``newest_end`` (never back), forgetting runs it passed."""
        floor = max(self.floor, _utc(newest_end) - GRACE)
        if floor == self.floor:
            return
        self.floor = floor
        self.announced = {job: at for job, at in self.announced.items() if at > floor}

    def to_json(self) -> dict[str, Any]:
        """Plain JSON, for the asset state store."""
        return {
            "version": WATERMARK_VERSION,
            "floor": self.floor.isoformat(),
            "announced": {job: at.isoformat() for job, at in sorted(self.announced.items())},
        }

    @classmethod
    def from_json(cls, data: object) -> Watermark:
        """Read :meth:`to_json`'s shape back; raises ``ValueError`` saying what is wrong with it."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a watermark is a JSON object, got {type(data).__name__}")
        if data.get("version") != WATERMARK_VERSION:
            raise ValueError(f"unknown watermark version {data.get('version')!r} (this provider writes 1)")
        floor = parse_timestamp(data.get("floor"))
        if floor is None:
            raise ValueError(f"the watermark's floor {data.get('floor')!r} is not an ISO-8601 timestamp")
        announced_raw = data.get("announced")
        if not isinstance(announced_raw, Mapping):
            raise ValueError("the watermark's 'announced' is not a JSON object of job id to timestamp")
        announced: dict[str, datetime] = {}
        for job, stamp in announced_raw.items():
            parsed = parse_timestamp(stamp)
            if not isinstance(job, str) or parsed is None:
                raise ValueError(f"the watermark's entry {job!r}: {stamp!r} is not a job id and a timestamp")
            announced[job] = _utc(parsed)
        return cls(floor=_utc(floor), announced=announced)


class RunEndTracker:
    """Decides, list after list, which runs of the watched workflows ended and are to be announced.

    :param workflow_ids: the workflows watched.
    :param statuses: the end statuses announced (:attr:`RunStatus.UNKNOWN` for an unknown status whose
        ``completed_at`` is set).
    :param watermark: where to start (:meth:`Watermark.starting`, or one read back from the state store).
    """

    def __init__(self, workflow_ids: Iterable[str], statuses: Iterable[RunStatus], watermark: Watermark) -> None:
        self.workflow_ids = frozenset(workflow_ids)
        self.statuses = frozenset(statuses)
        self.watermark = watermark
        self._active: dict[str, RunRecord] = {}

    def observe(self, records: Iterable[RunRecord], now: datetime) -> list[RunRecord]:
        """The runs in ``records`` to announce now, in the order they ended; updates the watermark.

        A run that ended without ``completed_at`` is announced only when this tracker saw it queued or
        running: nothing else proves it ended after the watcher started. Its end is then taken as ``now``.
        """
        found: list[tuple[datetime, RunRecord]] = []
        newest: datetime | None = None
        for record in records:
            if record.workflow_id not in self.workflow_ids:
                continue
            end = record.ended_status
            if end is None:
                if record.status.is_active:
                    self._active[record.job_id] = record
                continue
            seen_active = self._active.pop(record.job_id, None) is not None
            ended_at = record.completed_at
            if ended_at is None:
                if not seen_active:
                    continue
                ended_at = now
            newest = ended_at if newest is None or _utc(ended_at) > _utc(newest) else newest
            if end in self.statuses and self.watermark.is_new(record.job_id, ended_at):
                self.watermark.announce(record.job_id, ended_at)
                found.append((_utc(ended_at), record))
        if newest is not None:
            self.watermark.advance(newest)
        found.sort(key=lambda item: (item[0], item[1].job_id))
        return [record for _, record in found]

    def out_of_window(self, complete: bool, oldest_queued: datetime | None) -> list[RunRecord]:
        """Forget and return the runs seen active that a list cut at its limit can no longer show.

        A list holds the newest runs by ``queued_at``; when it was cut (not ``complete``), a run queued
        at or before its oldest entry may be missing, so its end may never be seen.
        """
        if complete:
            return []
        lost = [
            run
            for run in self._active.values()
            if oldest_queued is None or run.queued_at is None or _utc(run.queued_at) <= _utc(oldest_queued)
        ]
        for run in lost:
            del self._active[run.job_id]
        return lost

    @property
    def active_runs(self) -> dict[str, RunRecord]:
        """The runs of the watched workflows last seen queued or running, by job id."""
        return dict(self._active)


def parse_statuses(statuses: object) -> tuple[RunStatus, ...]:
    """Validate a watcher's ``statuses`` argument: end statuses only, by their API spelling."""
    allowed = {"completed", "failed", "cancelled", "unknown"}
    items = [statuses] if isinstance(statuses, str) else statuses
    if not isinstance(items, (list, tuple, set, frozenset)) or not items:
        raise SixtyfourInputError(f"statuses must be a non-empty list of end statuses, got {statuses!r}")
    parsed: list[RunStatus] = []
    for item in items:
        text = status_text(item)
        if text not in allowed:
            raise SixtyfourInputError(
                f"status {item!r} is not an end status; choose from completed, failed, cancelled, unknown "
                "(an unknown status whose completed_at is set)"
            )
        status = RunStatus.parse(text)
        if status not in parsed:
            parsed.append(status)
    return tuple(sorted(parsed, key=lambda s: s.value))


#: At most this many ``metrics`` entries of a run go into its event, each string cut to this length.
MAX_METRICS = 32
MAX_METRIC_TEXT = 200


def _metric_value(value: object) -> object:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return redact_urls_in(value)[:MAX_METRIC_TEXT]
    return _SKIP


_SKIP = object()


def metrics_summary(record: RunRecord) -> dict[str, Any]:
    """A JSON-safe summary of what a run did: its duration, its block count, and its scalar ``metrics``.

    The keys inside ``metrics`` are not documented, so only scalar values are kept (at most
    :data:`MAX_METRICS`), strings are cut short and URLs lose their query strings (no signed URL).
    """
    summary: dict[str, Any] = {
        "duration_seconds": None if record.duration_ms is None else round(record.duration_ms / 1000, 3),
        "blocks_count": record.blocks_count,
    }
    for key, value in sorted(record.metrics.items(), key=lambda item: str(item[0]))[:MAX_METRICS]:
        kept = _metric_value(value)
        if kept is not _SKIP and str(key) not in summary:
            summary[str(key)] = kept
    return summary


def run_event_payload(record: RunRecord, run_url: str) -> dict[str, Any]:
    """The payload of the event for one ended run: plain JSON, never a signed URL or the key."""
    end = record.ended_status or record.status
    reason = record.error_message
    if reason is None and end in (RunStatus.FAILED, RunStatus.CANCELLED):
        reason = record.status_reason
    return {
        "job_id": record.job_id,
        "workflow_id": record.workflow_id,
        "status": end.value,
        "completed_at": None if record.completed_at is None else _utc(record.completed_at).isoformat(),
        "error_message": None if reason is None else redact_urls_in(reason),
        "run_url": run_url,
        "metrics": metrics_summary(record),
    }
