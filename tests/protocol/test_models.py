"""Parsing every record from the API's documented answers: unknown fields ignored, required ones enforced."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from airflow_provider_sixtyfour.protocol import endpoints, models
from airflow_provider_sixtyfour.protocol.answers import read_answer
from airflow_provider_sixtyfour.protocol.errors import SixtyfourResponseError
from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable
from airflow_provider_sixtyfour.protocol.models import (
    CancelResult,
    DownloadLink,
    LiveStatus,
    MalformedAnswer,
    RunStarted,
    Workflow,
)
from airflow_provider_sixtyfour.protocol.statuses import BlockStatus, RunStatus

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
SIGNED_URL = "https://storage.example.com/results/run/enriched.csv?X-Goog-Signature=deadbeefcafe&X-Goog-Expires=900"


def test_run_started_parses_and_ignores_unknown_fields() -> None:
    started = RunStarted.from_api(
        {
            "status": "queued",
            "workflow_id": "wf-1",
            "job_id": JOB_ID,
            "cache_config": None,
            "already_started": None,
            "brand_new_field": {"x": 1},
        }
    )
    assert started.job_id == JOB_ID
    assert started.workflow_id == "wf-1"
    assert started.status is RunStatus.QUEUED
    assert started.already_started is False
    assert started.cache_config is None
    assert started.raw["brand_new_field"] == {"x": 1}


def test_run_started_replay_is_flagged() -> None:
    started = RunStarted.from_api(
        {"status": "running", "workflow_id": "wf-1", "job_id": JOB_ID, "already_started": True}
    )
    assert started.already_started is True
    assert started.status is RunStatus.RUNNING


@pytest.mark.parametrize("missing", ["status", "workflow_id", "job_id"])
def test_run_started_requires_documented_fields(missing: str) -> None:
    data = {"status": "queued", "workflow_id": "wf-1", "job_id": JOB_ID}
    del data[missing]
    with pytest.raises(MalformedAnswer, match=missing):
        RunStarted.from_api(data)


def test_run_started_rejects_wrong_types() -> None:
    with pytest.raises(MalformedAnswer, match="job_id"):
        RunStarted.from_api({"status": "queued", "workflow_id": "wf-1", "job_id": 42})
    with pytest.raises(MalformedAnswer, match="JSON object"):
        RunStarted.from_api(["not", "an", "object"])


def test_run_record_list_parses_all_documented_fields() -> None:
    records = models.run_records(
        [
            {
                "job_id": JOB_ID,
                "workflow_id": "wf-1",
                "workflow_name": "Lead enrichment",
                "status": "completed",
                "step": "done",
                "user_id": "u-1",
                "created_at": "2026-05-01T10:00:00Z",
                "updated_at": "2026-05-01T10:05:00+00:00",
                "queued_at": "2026-05-01T10:00:00Z",
                "started_at": "2026-05-01T10:00:01Z",
                "completed_at": "2026-05-01T10:05:00Z",
                "duration_ms": 299000,
                "status_reason": None,
                "error_message": None,
                "metrics": {"rows": 10},
                "blocks": [{"whatever": 1}],
                "blocks_count": 3,
                "unknown": "ignored",
            },
            {"job_id": JOB_ID, "workflow_id": "wf-2", "status": "canceled"},
        ]
    )
    first, second = records
    assert first.status is RunStatus.COMPLETED
    assert first.workflow_name == "Lead enrichment"
    assert first.completed_at == datetime(2026, 5, 1, 10, 5, tzinfo=timezone.utc)
    assert first.duration_ms == 299000
    assert first.metrics == {"rows": 10}
    assert first.blocks_count == 3
    assert second.status is RunStatus.CANCELLED
    assert second.workflow_name == "Untitled Workflow"
    assert second.created_at is None


def test_run_record_list_must_be_a_list() -> None:
    with pytest.raises(MalformedAnswer, match="list of runs"):
        models.run_records({"runs": []})


def _live(overall: str, blocks: list[dict[str, object]] | None = None, **extra: object) -> dict[str, object]:
    return {
        "run_id": JOB_ID,
        "workflow_id": "wf-1",
        "overall_status": overall,
        "last_updated": "2026-05-01T10:00:05Z",
        "blocks": blocks or [],
        **extra,
    }


def test_live_status_parses_blocks_and_progress() -> None:
    status = LiveStatus.from_api(
        _live(
            "running",
            [
                {
                    "block_name": "webhook",
                    "sequence_number": 1,
                    "status": "completed",
                    "progress_percentage": 100,
                    "processed_count": 10,
                    "total_count": 10,
                    "last_updated": "2026-05-01T10:00:02Z",
                    "metrics": {"row_count": 10, "dataframe_type": "LEAD"},
                    "previous_block_ids": None,
                },
                {
                    "block_name": "enrich_lead",
                    "sequence_number": 2,
                    "status": "running",
                    "progress_percentage": 40.5,
                    "processed_count": 4,
                    "total_count": 10,
                    "metrics": {},
                    "future_field": True,
                },
            ],
            overall_progress_percentage=70.25,
            current_block="enrich_lead",
            current_block_sequence=2,
            total_blocks=2,
            completed_blocks=1,
            estimation_blocked_by=None,
        )
    )
    assert status.job_id == JOB_ID
    assert status.status is RunStatus.RUNNING
    assert status.status.is_active
    assert not status.status.is_terminal
    assert status.progress_percentage == 70.25
    assert status.current_block == "enrich_lead"
    assert [b.status for b in status.blocks] == [BlockStatus.COMPLETED, BlockStatus.RUNNING]
    assert status.blocks[0].row_count == 10
    assert status.blocks[1].row_count is None
    assert status.rows_processed == 4
    assert status.error_message is None


@pytest.mark.parametrize("spelling", ["cancelled", "canceled", "CANCELED", " Cancelled "])
def test_live_status_accepts_both_cancel_spellings(spelling: str) -> None:
    status = LiveStatus.from_api(_live(spelling))
    assert status.status is RunStatus.CANCELLED
    assert status.status.is_terminal


def test_live_status_failed_collects_error_messages() -> None:
    status = LiveStatus.from_api(
        _live(
            "failed",
            [
                {"block_name": "webhook", "sequence_number": 1, "status": "completed", "metrics": {}},
                {
                    "block_name": "find_email",
                    "sequence_number": 2,
                    "status": "failed",
                    "error_message": "provider quota exceeded",
                    "metrics": {},
                },
            ],
            error_message="Run failed",
        )
    )
    assert status.status is RunStatus.FAILED
    assert status.error_message == "Run failed; find_email: provider quota exceeded"
    assert status.blocks[1].status is BlockStatus.FAILED


def test_live_status_unknown_status_is_not_terminal(caplog: pytest.LogCaptureFixture) -> None:
    status = LiveStatus.from_api(_live("paused-for-review-xyz"))
    assert status.status is RunStatus.UNKNOWN
    assert not status.status.is_terminal
    assert not status.status.is_active
    LiveStatus.from_api(_live("paused-for-review-xyz"))
    assert sum("paused-for-review-xyz" in r.getMessage() for r in caplog.records) <= 1


def test_block_status_unknown_value() -> None:
    assert BlockStatus.parse("exploded") is BlockStatus.UNKNOWN
    assert BlockStatus.parse("PENDING") is BlockStatus.PENDING


@pytest.mark.parametrize("missing", ["run_id", "workflow_id", "overall_status"])
def test_live_status_requires_fields(missing: str) -> None:
    data = _live("running")
    del data[missing]
    with pytest.raises(MalformedAnswer, match=missing):
        LiveStatus.from_api(data)


def test_live_status_block_requires_name() -> None:
    with pytest.raises(MalformedAnswer, match="block_name"):
        LiveStatus.from_api(_live("running", [{"sequence_number": 1, "status": "running", "metrics": {}}]))


@pytest.mark.parametrize(
    ("spelling", "expected"), [("canceled", RunStatus.CANCELLED), ("cancelled", RunStatus.CANCELLED)]
)
def test_cancel_result_both_spellings(spelling: str, expected: RunStatus) -> None:
    result = CancelResult.from_api({"job_id": JOB_ID, "status": spelling, "extra": 1})
    assert result.status is expected
    assert result.job_id == JOB_ID


def test_cancel_result_of_finished_run_keeps_its_status() -> None:
    assert CancelResult.from_api({"job_id": JOB_ID, "status": "completed"}).status is RunStatus.COMPLETED


def test_download_link_hides_signed_url() -> None:
    link = DownloadLink.from_api(
        {
            "filename": "enriched.csv",
            "storage_bucket": "results",
            "row_count": 12,
            "block_number": 3,
            "created_at": "2026-05-01T10:05:00Z",
            "message": None,
            "content_type": "text/csv",
            "download_url": SIGNED_URL,
            "download_expires_in_seconds": 900,
            "file_size": 2048,
            "results": [{"a": 1}],
            "new": "x",
        }
    )
    assert link.download_url == SIGNED_URL
    assert link.row_count == 12
    assert link.block_number == 3
    assert link.file_size == 2048
    assert link.expires_in_seconds == 900
    assert "deadbeef" not in repr(link)
    assert "deadbeef" not in link.safe_url
    assert link.safe_url.startswith("https://storage.example.com/results/run/enriched.csv")
    assert link.host == "storage.example.com"
    rendered = json.dumps(to_jsonable(link))
    assert "deadbeef" not in rendered
    assert "X-Goog-Signature" not in rendered


def test_download_link_without_url() -> None:
    link = DownloadLink.from_api({"filename": "a.csv", "storage_bucket": "b", "download_url": None})
    assert link.download_url is None
    assert link.safe_url == "<no download url>"
    assert link.row_count == 0
    assert link.block_number is None


def test_download_links_list() -> None:
    links = models.download_links(
        [{"filename": f"{i}.csv", "storage_bucket": "b", "block_number": i} for i in range(3)]
    )
    assert [link.block_number for link in links] == [0, 1, 2]
    with pytest.raises(MalformedAnswer, match="filename"):
        models.download_links([{"storage_bucket": "b"}])


def test_workflow_with_definition() -> None:
    workflow = Workflow.from_api(
        {
            "id": "wf-1",
            "name": "Leads",
            "status": "ready",
            "step": "build",
            "created_at": "2026-05-01T10:00:00Z",
            "updated_at": "2026-05-01T10:00:00Z",
            "workflow_definition": {
                "blocks": [
                    {"sequence_number": 2, "block_type": "enrich", "block_name": "enrich_lead", "specs": {}},
                    {"sequence_number": 1, "block_type": "source", "block_name": "webhook", "specs": {"a": 1}},
                ],
                "edges": [{"from_block_id": "a", "to_block_id": "b"}],
            },
            "org_id": "o-1",
        }
    )
    assert workflow.first_block_name == "webhook"
    assert workflow.takes_webhook_payload
    assert not workflow.takes_csv_upload
    assert len(workflow.blocks) == 2


def test_workflow_list_has_no_blocks() -> None:
    workflows = models.workflows(
        [{"id": "wf-1", "name": "A", "status": "ready", "step": "x", "workflow_definition": None}]
    )
    assert workflows[0].blocks == ()
    assert workflows[0].first_block_name is None
    assert not workflows[0].takes_csv_upload


def test_read_answer_turns_missing_fields_into_response_error() -> None:
    call = endpoints.get_live_status(JOB_ID)
    with pytest.raises(SixtyfourResponseError) as info:
        read_answer(call, 200, b'{"run_id": "x"}', {})
    message = str(info.value)
    assert f"GET /workflows/runs/{JOB_ID}/live_status" in message
    assert "required field 'workflow_id' is missing" in message


def test_read_answer_non_json_and_html() -> None:
    call = endpoints.list_workflows()
    with pytest.raises(SixtyfourResponseError, match="HTML page"):
        read_answer(call, 200, b"<!DOCTYPE html><html><body>Login</body></html>", {})
    with pytest.raises(SixtyfourResponseError, match="not JSON"):
        read_answer(call, 200, b"plain text", {})


def test_read_answer_success() -> None:
    call = endpoints.cancel_run(JOB_ID)
    result = read_answer(call, 200, json.dumps({"job_id": JOB_ID, "status": "canceled"}).encode(), {})
    assert result == CancelResult(job_id=JOB_ID, status=RunStatus.CANCELLED)
