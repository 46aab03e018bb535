"""One-line descriptions of a run: its progress (logged only when it changed) and how it ended; no I/O.

The trigger, the sensor, the run and cancel operators and the result download all describe a run with
these, so a run that ended reads the same in a task's error, a trigger's event and a log line.
"""

from __future__ import annotations

from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord
from airflow_provider_sixtyfour.protocol.statuses import RunStatus


def describe_progress(update: LiveStatus | RunRecord) -> str:
    """One line: status, overall %, current block, completed/total blocks, rows processed.

    A :class:`RunRecord` (from the run list) carries no per-block progress, so its line says less.
    """
    if isinstance(update, RunRecord):
        return f"Sixtyfour run {update.job_id} is {update.reported_status}"
    block = update.current_block or "-"
    return (
        f"Sixtyfour run {update.job_id} is {update.reported_status}: {update.progress_percentage:.0f}% done, "
        f"block {block} ({update.completed_blocks}/{update.total_blocks} blocks completed), "
        f"{update.rows_processed} rows processed"
    )


class ProgressTracker:
    """Remembers the last progress line so that each change is logged once, and nothing else."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: str | None = None

    def changed(self, update: LiveStatus | RunRecord) -> str | None:
        """The line for ``update`` if it differs from the last one seen, else None.

        A run-list record only says queued/running: it counts as a change only when the status moved,
        so it never undoes a richer line from a live status of the same state.
        """
        line = describe_progress(update)
        if self._last is not None and self._last.startswith(line) and isinstance(update, RunRecord):
            return None
        if line == self._last:
            return None
        self._last = line
        return line


#: What a failed run's description says when the API gave no reason.
NO_REASON = "the API gave no reason; see the run in the Sixtyfour app"


def describe_end(run: LiveStatus, reason: str | None = None) -> str:
    """How a run ended, in one sentence: completed; failed, with the API's reason; cancelled (which does
    not count as success); or ended in a status this provider does not know (which does not either).

    :param reason: why it failed or was cancelled, when the caller knows more than the live status (the
        run list's ``error_message``); by default :attr:`~.LiveStatus.error_message`.
    """
    why = reason or run.error_message
    head = f"Sixtyfour run {run.job_id}"
    if run.status is RunStatus.COMPLETED:
        return f"{head} completed"
    if run.status is RunStatus.FAILED:
        return f"{head} failed: {why or NO_REASON}"
    if run.status is RunStatus.CANCELLED:
        because = f" ({why})" if why else ""
        return f"{head} was cancelled before it completed; a cancelled run does not count as success{because}"
    if run.has_ended:
        because = f": {why}" if why else ""
        return (
            f"{head} ended with status {run.reported_status!r}, which this provider does not know, so it does "
            f"not count as completed{because}"
        )
    return f"{head} has not ended: it is {run.reported_status}"
