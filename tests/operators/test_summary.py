"""The run operator's summary, built from the typed live status (no I/O)."""

from __future__ import annotations

import json

from airflow_provider_sixtyfour.operators._summary import run_summary
from airflow_provider_sixtyfour.protocol.models import LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"


def test_the_summary_of_a_completed_run() -> None:
    run = LiveStatus.from_api(
        {
            "run_id": JOB,
            "workflow_id": "wf-a",
            "overall_status": "completed",
            "overall_progress_percentage": 100,
            "total_blocks": 2,
            "completed_blocks": 2,
            "started_at": "2026-05-01T12:00:00Z",
            "completed_at": "2026-05-01T12:01:30.5Z",
            "blocks": [
                {"block_name": "webhook", "sequence_number": 1, "status": "completed", "processed_count": 3},
                {
                    "block_name": "enrich",
                    "sequence_number": 2,
                    "status": "completed",
                    "processed_count": 3,
                    "metrics": {"found": 2},
                },
            ],
        }
    )
    files = [
        {"filename": "a.csv", "block_number": 1, "row_count": 3},
        {"filename": "b.csv", "block_number": 2, "row_count": 2},
    ]
    summary = run_summary(run, job_id=JOB, workflow_id="ignored", run_url="https://app/runs/x", files=files)
    json.dumps(summary, allow_nan=False)
    assert summary["workflow_id"] == "wf-a"
    assert (summary["status"], summary["duration_seconds"], summary["output_rows"]) == ("completed", 90.5, 2)
    assert summary["started_at"] == "2026-05-01T12:00:00+00:00"
    assert summary["rows_processed"] == {"webhook": 3, "enrich": 3}
    assert summary["metrics"] == {"enrich": {"found": 2}}


def test_the_summary_of_a_run_only_started() -> None:
    summary = run_summary(None, status=RunStatus.QUEUED, job_id=JOB, workflow_id="wf-a", run_url=None)
    assert (summary["status"], summary["workflow_id"], summary["rows_processed"]) == ("queued", "wf-a", {})
    assert summary["duration_seconds"] is None
