"""The JSON-safe summary a run operator returns; no I/O.

The summary is built from the run's typed live status, which the blocking path reads and the deferred
path reads back from the trigger's event (:meth:`~.LiveStatus.from_json`), so both return the same
thing. It never holds a signed download URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from airflow_provider_sixtyfour.protocol.models import DownloadLink, LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import RunStatus


def result_files(links: Sequence[DownloadLink]) -> list[dict[str, Any]]:
    """Name, block and row count of each result file, in block order (no URLs)."""
    ordered = sorted(links, key=lambda link: (link.block_number is None, link.block_number or 0, link.filename))
    return [
        {
            "filename": link.filename,
            "block_number": link.block_number,
            "row_count": link.row_count,
            "file_size": link.file_size,
        }
        for link in ordered
    ]


def _duration_seconds(run: LiveStatus) -> float | None:
    if run.started_at is None or run.completed_at is None:
        return None
    return round((run.completed_at - run.started_at).total_seconds(), 3)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_summary(
    run: LiveStatus | None,
    *,
    job_id: str,
    workflow_id: str,
    run_url: str | None,
    status: RunStatus | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The operator's return value: what the run did, in plain JSON.

    :param run: the run's live status, or None when only its ``status`` is known (a run just started).
    :param status: the run's status when ``run`` is None.
    :param files: :func:`result_files` of a completed run, or None when not known.
    """
    output_rows = None
    if files:
        numbered = [f for f in files if f.get("block_number") is not None]
        final = max(numbered, key=lambda f: f["block_number"]) if numbered else files[-1]
        output_rows = final.get("row_count")
    known = run.status if run is not None else status
    return {
        "job_id": job_id,
        "workflow_id": (run.workflow_id if run is not None else "") or workflow_id,
        "status": None if known is None else known.value,
        "run_url": run_url,
        "started_at": None if run is None else _iso(run.started_at),
        "completed_at": None if run is None else _iso(run.completed_at),
        "duration_seconds": None if run is None else _duration_seconds(run),
        "progress_percentage": None if run is None else run.progress_percentage,
        "completed_blocks": None if run is None else run.completed_blocks,
        "total_blocks": None if run is None else run.total_blocks,
        "rows_processed": {} if run is None else {b.block_name: b.processed_count for b in run.blocks},
        "metrics": {} if run is None else {b.block_name: dict(b.metrics) for b in run.blocks if b.metrics},
        "result_files": files,
        "output_rows": output_rows,
    }
