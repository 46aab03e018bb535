"""The I/O-free parts of the trigger: progress lines and end messages (what a list proves: test_plan.py)."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord
from airflow_provider_sixtyfour.triggers.describe import ProgressTracker, describe_end, describe_progress

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def live(status: str, pct: float = 0.0, block: str | None = None, done: int = 0, **raw: object) -> LiveStatus:
    return LiveStatus.from_api(
        {
            "run_id": JOB,
            "workflow_id": "wf-a",
            "overall_status": status,
            "overall_progress_percentage": pct,
            "current_block": block,
            "completed_blocks": done,
            "total_blocks": 3,
            "blocks": [
                {"block_name": "webhook", "sequence_number": 1, "status": "completed", "processed_count": 10},
                {"block_name": "enrich_lead", "sequence_number": 2, "status": "running", "processed_count": 4},
            ],
            **raw,
        }
    )


def record(job_id: str, queued_at: datetime, status: str = "running", workflow_id: str = "wf-a") -> RunRecord:
    return RunRecord.from_api(
        {"job_id": job_id, "workflow_id": workflow_id, "status": status, "queued_at": queued_at.isoformat()}
    )


def test_progress_line_has_percentage_block_counts_and_rows() -> None:
    line = describe_progress(live("running", 42.4, "enrich_lead", 1))
    assert line == (
        f"Sixtyfour run {JOB} is running: 42% done, block enrich_lead (1/3 blocks completed), 4 rows processed"
    )


def test_tracker_reports_each_change_once() -> None:
    tracker = ProgressTracker()
    assert tracker.changed(record(JOB, T0, "queued")) == f"Sixtyfour run {JOB} is queued"
    assert tracker.changed(record(JOB, T0, "queued")) is None
    assert tracker.changed(live("running", 10, "enrich_lead", 1)) is not None
    assert tracker.changed(live("running", 10, "enrich_lead", 1)) is None
    # A list record of the same state says less than the live status already logged: not a change.
    assert tracker.changed(record(JOB, T0, "running")) is None
    assert tracker.changed(live("running", 55, "enrich_lead", 1)) is not None


def test_end_messages_carry_the_api_reason() -> None:
    failed = live("failed", error_message="quota exhausted", status_reason="provider error")
    assert describe_end(failed) == f"Sixtyfour run {JOB} failed: quota exhausted"
    assert "no reason" in describe_end(live("failed"))
    assert describe_end(live("canceled")) == f"Sixtyfour run {JOB} was cancelled"
    assert describe_end(live("completed")) == f"Sixtyfour run {JOB} completed"
