"""One-line descriptions of a run: its progress (logged only when it changed) and how it ended; no I/O."""

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


def describe_end(run: LiveStatus) -> str:
    """How a finished run ended; for a failed or cancelled run, with the API's reason."""
    reason = run.error_message
    if run.status is RunStatus.COMPLETED:
        return f"Sixtyfour run {run.job_id} completed"
    if run.status is RunStatus.FAILED:
        return (
            f"Sixtyfour run {run.job_id} failed: {reason or 'the API gave no reason; see the run in the Sixtyfour app'}"
        )
    if run.status is RunStatus.CANCELLED:
        return f"Sixtyfour run {run.job_id} was cancelled" + (f": {reason}" if reason else "")
    if run.has_ended:
        return (
            f"Sixtyfour run {run.job_id} ended with status {run.reported_status!r}, which this provider does not "
            "know, so it does not count as completed" + (f": {reason}" if reason else "")
        )
    return f"Sixtyfour run {run.job_id} has not ended: it is {run.reported_status}"
