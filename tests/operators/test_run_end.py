"""Why a run failed and how a timeout reads, from typed records (no I/O)."""

from __future__ import annotations

from airflow_provider_sixtyfour.operators._run_end import failure_reason, timeout_failure
from airflow_provider_sixtyfour.protocol.models import CancelResult, LiveStatus, RunRecord
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
OTHER = "9d8c7b6a-1234-4c1b-9f0e-2a7d6b5c4e31"


def test_the_failure_reason_joins_the_run_list_and_the_failed_blocks_once_each() -> None:
    run = LiveStatus.from_api(
        {
            "run_id": JOB,
            "workflow_id": "wf",
            "overall_status": "failed",
            "blocks": [
                {"block_name": "enrich", "sequence_number": 2, "status": "failed", "error_message": "quota"},
                {"block_name": "score", "sequence_number": 3, "status": "failed", "error_message": "provider down"},
            ],
        }
    )
    records = [
        RunRecord(job_id=OTHER, workflow_id="wf", status=RunStatus.FAILED, error_message="not this one"),
        RunRecord(job_id=JOB, workflow_id="wf", status=RunStatus.FAILED, error_message="quota", status_reason="x"),
    ]
    assert failure_reason(records, JOB, run) == "quota; x; score: provider down"
    assert failure_reason([], JOB, LiveStatus(run_id=JOB, workflow_id="wf", status=RunStatus.FAILED)) is None


def test_a_timeout_says_the_limit_the_last_status_and_what_the_cancel_got() -> None:
    answered = CancelResult(job_id=JOB, status=RunStatus.CANCELLED)
    error = timeout_failure(
        JOB, timeout_seconds=3, deadline=0.0, last_status="running", detail="", cancel_answer=answered
    )
    assert str(error) == (
        f"Sixtyfour run {JOB} timed out: not finished within timeout=3 s (deadline 1970-01-01T00:00:00+00:00); "
        "it was still running. The remote run: cancel requested (Sixtyfour answered cancelled)"
    )
    unanswered = timeout_failure(
        JOB, timeout_seconds=None, deadline=None, last_status=None, detail="HTTP 429", cancel_answer=None
    )
    assert str(unanswered) == (
        f"Sixtyfour run {JOB} timed out: not finished within its deadline (HTTP 429). "
        "The remote run: the cancel request failed: cancel it in the Sixtyfour app"
    )
