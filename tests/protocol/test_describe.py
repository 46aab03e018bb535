"""Progress lines and end messages, shared by the trigger, the sensor and the operators."""

from __future__ import annotations

from datetime import datetime, timezone

from airflow_provider_sixtyfour.protocol.describe import ProgressTracker, describe_end, describe_progress
from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord

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
    assert describe_end(live("canceled")) == (
        f"Sixtyfour run {JOB} was cancelled before it completed; a cancelled run does not count as success"
    )
    assert describe_end(live("completed")) == f"Sixtyfour run {JOB} completed"


def test_the_end_of_a_run_is_described_in_one_place() -> None:
    cancelled = live("cancelled", status_reason="stopped by a user")
    assert describe_end(cancelled) == (
        f"Sixtyfour run {JOB} was cancelled before it completed; a cancelled run does not count as success "
        "(stopped by a user)"
    )
    # A caller that knows more (the run list's reason) says so instead of the live status's.
    assert describe_end(live("failed"), reason="quota") == f"Sixtyfour run {JOB} failed: quota"
    ended = live("expired", completed_at="2026-05-01T12:00:00Z", error_message="too slow")
    assert describe_end(ended) == (
        f"Sixtyfour run {JOB} ended with status 'expired', which this provider does not know, so it does not "
        "count as completed: too slow"
    )
    assert describe_end(live("running")) == f"Sixtyfour run {JOB} has not ended: it is running"
