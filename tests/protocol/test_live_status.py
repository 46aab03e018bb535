"""A live status's JSON form: strict JSON, read back unchanged, and events of earlier versions still read."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_sixtyfour.protocol.fields import MalformedAnswer
from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable
from airflow_provider_sixtyfour.protocol.models import LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import BlockStatus, RunStatus

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"


def answer(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "run_id": JOB,
        "workflow_id": "wf-a",
        "overall_status": "running",
        "overall_progress_percentage": 42.5,
        "current_block": "enrich",
        "current_block_sequence": 2,
        "total_blocks": 3,
        "completed_blocks": 1,
        "started_at": "2026-05-01T12:00:00Z",
        "last_updated": "2026-05-01T12:01:00Z",
        "blocks": [
            {"block_name": "webhook", "sequence_number": 1, "status": "completed", "processed_count": 10},
            {
                "block_name": "enrich",
                "sequence_number": 2,
                "status": "failed",
                "processed_count": 4,
                "error_message": "quota",
                "metrics": {"row_count": 4, "ratio": float("nan")},
            },
        ],
    }
    base.update(fields)
    return base


def test_to_json_is_strict_json_and_reads_back_unchanged() -> None:
    live = LiveStatus.from_api(answer())
    data = live.to_json()
    json.dumps(data, allow_nan=False)
    back = LiveStatus.from_json(json.loads(json.dumps(data)))
    assert back == live
    assert back.to_json() == data
    assert back.blocks[1].status is BlockStatus.FAILED
    assert back.blocks[1].metrics == {"row_count": 4, "ratio": None}
    assert to_jsonable(live) == data  # one JSON form, whichever way it is asked for


def test_what_the_provider_reads_from_raw_survives_the_round_trip() -> None:
    live = LiveStatus.from_api(
        answer(overall_status="expired", completed_at="2026-05-01T12:05:00Z", status_reason="too slow")
    )
    back = LiveStatus.from_json(live.to_json())
    assert back.status is RunStatus.UNKNOWN
    assert (back.reported_status, back.has_ended) == ("expired", True)
    assert back.error_message == live.error_message == "too slow; enrich: quota"
    assert back.reason == "too slow"


def test_a_completed_at_that_is_no_timestamp_still_says_the_run_ended() -> None:
    live = LiveStatus.from_api(answer(overall_status="timeout", completed_at="yesterday"))
    assert live.has_ended
    assert LiveStatus.from_json(live.to_json()).has_ended


def test_the_form_of_earlier_versions_still_reads() -> None:
    old = {
        "run_id": JOB,
        "workflow_id": "wf-a",
        "status": "failed",
        "completed_at": "2026-05-01T12:05:00+00:00",
        "progress_percentage": 100.0,
        "blocks": [{"block_name": "enrich", "sequence_number": 2, "status": "failed", "error_message": "quota"}],
    }
    live = LiveStatus.from_json(old)
    assert (live.run_id, live.status, live.reported_status, live.has_ended) == (JOB, RunStatus.FAILED, "failed", True)
    assert live.error_message == "enrich: quota"


def test_from_json_is_tolerant_of_missing_and_mistyped_fields() -> None:
    live = LiveStatus.from_json({"status": "running", "total_blocks": "x", "blocks": "not a list"})
    assert (live.run_id, live.workflow_id, live.total_blocks, live.blocks) == ("", "", 0, ())
    assert not live.has_ended
    with pytest.raises(MalformedAnswer):
        LiveStatus.from_json(["not", "an", "object"])
