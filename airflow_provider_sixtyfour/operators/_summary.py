"""The JSON-safe summary a run operator returns; no I/O.

The summary is built from a run's live status in its plain-JSON form (``to_jsonable(LiveStatus)``,
which is also what the trigger's event carries), so the deferrable and the blocking paths return the
same thing. It never holds a signed download URL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_sixtyfour.protocol.models import DownloadLink, parse_timestamp


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


def _duration_seconds(started: object, completed: object) -> float | None:
    start, end = parse_timestamp(started), parse_timestamp(completed)
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _blocks(run: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    blocks = run.get("blocks") or []
    return [b for b in blocks if isinstance(b, Mapping)]


def run_summary(
    run: Mapping[str, Any],
    *,
    job_id: str,
    workflow_id: str,
    run_url: str | None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The operator's return value: what the run did, in plain JSON.

    :param run: the run's live status as plain JSON (``to_jsonable(LiveStatus)``); may be empty.
    :param files: :func:`result_files` of a completed run, or None when not known.
    """
    blocks = _blocks(run)
    metrics = {
        str(b.get("block_name")): dict(b["metrics"])
        for b in blocks
        if isinstance(b.get("metrics"), Mapping) and b["metrics"]
    }
    rows_processed = {str(b.get("block_name")): b.get("processed_count") for b in blocks}
    output_rows = None
    if files:
        numbered = [f for f in files if f.get("block_number") is not None]
        final = max(numbered, key=lambda f: f["block_number"]) if numbered else files[-1]
        output_rows = final.get("row_count")
    return {
        "job_id": job_id,
        "workflow_id": run.get("workflow_id") or workflow_id,
        "status": run.get("status"),
        "run_url": run_url,
        "started_at": run.get("started_at"),
        "completed_at": run.get("completed_at"),
        "duration_seconds": _duration_seconds(run.get("started_at"), run.get("completed_at")),
        "progress_percentage": run.get("progress_percentage"),
        "completed_blocks": run.get("completed_blocks"),
        "total_blocks": run.get("total_blocks"),
        "rows_processed": rows_processed,
        "metrics": metrics,
        "result_files": files,
        "output_rows": output_rows,
    }
