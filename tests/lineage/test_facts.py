"""The facts a task gathers for lineage: from a live status, a summary, a run record, a workflow."""

from __future__ import annotations

import math

import pytest

from airflow_provider_sixtyfour.lineage.facts import LineageFacts
from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord, Workflow
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

LIVE = LiveStatus.from_json(
    {
        "run_id": "job-1",
        "workflow_id": "wf-1",
        "status": "completed",
        "completed_blocks": 3,
        "total_blocks": 3,
        "blocks": [
            {"block_name": "enrich", "sequence_number": 2, "status": "completed", "processed_count": 9},
            {"block_name": "webhook", "sequence_number": 1, "status": "completed", "processed_count": 12},
        ],
    }
)


def test_a_live_status_then_a_summary_then_a_record_and_the_workflow() -> None:
    facts = LineageFacts()
    facts.saw_run(LIVE, run_url="https://app.example/runs/job-1")
    assert (facts.job_id, facts.workflow_id, facts.status, facts.rows_in) == ("job-1", "wf-1", "completed", 12)
    assert (facts.completed_blocks, facts.total_blocks, facts.run_url) == (3, 3, "https://app.example/runs/job-1")
    facts.saw_run(job_id="job-1", output_rows=11)
    assert facts.rows_out == 11
    assert facts.completed_blocks == 3
    facts.saw_record(
        RunRecord(
            job_id="job-1",
            workflow_id="wf-1",
            status=RunStatus.COMPLETED,
            workflow_name="Nightly leads",
            metrics={"rows_in": 12, "rows_out": 11, "credits_used": 4.5},
        )
    )
    facts.saw_workflow(Workflow(id="wf-1", name="Nightly leads", status="deployed", description="Find emails."))
    assert facts.run_facet_fields() == {
        "job_id": "job-1",
        "workflow_id": "wf-1",
        "workflow_name": "Nightly leads",
        "status": "completed",
        "run_url": "https://app.example/runs/job-1",
        "completed_blocks": 3,
        "total_blocks": 3,
        "rows_in": 12,
        "rows_out": 11,
        "credits_used": 4.5,
    }
    assert facts.documentation() == "Sixtyfour workflow Nightly leads (wf-1): Find emails."


@pytest.mark.parametrize("bad", [-1, 1.5, True, "12", None, math.nan, math.inf, [3]])
def test_numbers_from_the_api_that_are_not_counts_are_left_out(bad: object) -> None:
    facts = LineageFacts()
    facts.saw_run(job_id="j", output_rows=bad)
    record = RunRecord(
        job_id="j", workflow_id="w", status=RunStatus.COMPLETED, metrics={"credits_used": bad, "rows_in": bad}
    )
    facts.saw_record(record)
    assert (facts.rows_out, facts.rows_in) == (None, None)
    if bad != 1.5:
        assert facts.credits_used is None


def test_rows_in_waits_for_the_first_block_to_complete_and_metrics_win() -> None:
    facts = LineageFacts()
    running = [{"block_name": "webhook", "sequence_number": 1, "status": "running", "processed_count": 4}]
    facts.saw_run(LiveStatus.from_json({"run_id": "j", "status": "running", "blocks": running}))
    assert facts.rows_in is None
    facts.saw_record(RunRecord(job_id="j", workflow_id="w", status=RunStatus.RUNNING, metrics={"input_rows": 40}))
    assert facts.rows_in == 40


def test_landed_records_and_failure_text() -> None:
    facts = LineageFacts()
    facts.saw_landed([{"uri": "s3://b/f.csv", "job_id": "j-9", "row_count": 3}, {"no": "uri"}, "junk"])  # type: ignore[list-item]
    assert facts.landed == [{"uri": "s3://b/f.csv", "job_id": "j-9", "row_count": 3}]
    assert facts.job_id == "j-9"
    failed = RunRecord(job_id="j-9", workflow_id="w", status=RunStatus.FAILED, error_message="x" * 10_000)
    facts.saw_record(failed)
    assert facts.failure_reason == "x" * 4000
    assert LineageFacts().documentation() is None
    assert LineageFacts(workflow_id="wf-2").documentation() == "Sixtyfour workflow wf-2"
