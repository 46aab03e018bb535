"""The run-event watcher's decisions, without HTTP: which ended runs it announces, once, and its watermark."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.models import RunRecord
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.triggers.run_ends import (
    GRACE,
    RunEndTracker,
    Watermark,
    metrics_summary,
    parse_statuses,
    run_event_payload,
)

START = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def record(job: str, status: str, ended: float | None = None, workflow: str = "wf-a", **extra: Any) -> RunRecord:
    """A run list record as the API sends it; ``ended`` is seconds after START."""
    data: dict[str, Any] = {
        "job_id": job,
        "workflow_id": workflow,
        "status": status,
        "queued_at": (START - timedelta(minutes=5)).isoformat(),
        "completed_at": None if ended is None else (START + timedelta(seconds=ended)).isoformat(),
        **extra,
    }
    return RunRecord.from_api(data)


def tracker(
    statuses: tuple[RunStatus, ...] = (RunStatus.COMPLETED,), watermark: Watermark | None = None
) -> RunEndTracker:
    return RunEndTracker(["wf-a", "wf-b"], statuses, watermark or Watermark.starting(START))


def ids(records: list[RunRecord]) -> list[str]:
    return [r.job_id for r in records]


def test_announces_each_run_that_ended_after_the_start_once_in_end_order() -> None:
    t = tracker()
    listing = [record("late", "completed", 20), record("early", "completed", 10), record("before", "completed", -1)]
    assert ids(t.observe(listing, START)) == ["early", "late"]
    assert t.observe(listing, START) == []
    assert ids(t.observe([record("next", "completed", 30), *listing], START)) == ["next"]


def test_other_workflows_other_statuses_and_active_runs_are_never_announced() -> None:
    t = tracker()
    listing = [
        record("other-wf", "completed", 5, workflow="wf-z"),
        record("failed", "failed", 5),
        record("cancelled", "canceled", 5),
        record("running", "running"),
        record("odd-but-running", "paused"),
    ]
    assert t.observe(listing, START) == []
    assert set(t.active_runs) == {"running"}


def test_failed_cancelled_and_unknown_but_ended_are_selectable() -> None:
    t = tracker((RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.UNKNOWN))
    listing = [
        record("failed", "failed", 1),
        record("cancelled", "cancelled", 2),
        record("archived", "archived", 3),  # unknown status, completed_at set: it has ended
        record("paused", "paused"),  # unknown status, no completed_at: not ended
        record("done", "completed", 4),
    ]
    assert ids(t.observe(listing, START)) == ["failed", "cancelled", "archived"]


def test_a_run_reported_ended_late_within_the_grace_is_still_announced_once() -> None:
    t = tracker()
    assert ids(t.observe([record("newest", "completed", 600)], START)) == ["newest"]
    # Listed only now, though it ended 5 minutes before the newest end seen: within GRACE.
    late = record("late", "completed", 300)
    assert ids(t.observe([late, record("newest", "completed", 600)], START)) == ["late"]
    assert t.observe([late], START) == []
    assert t.watermark.floor == START + timedelta(seconds=600) - GRACE


def test_the_floor_forgets_announced_runs_it_passed_and_never_moves_back() -> None:
    t = tracker()
    t.observe([record("a", "completed", 10)], START)
    t.observe([record("b", "completed", 10 + GRACE.total_seconds() + 60)], START)
    assert set(t.watermark.announced) == {"b"}
    floor = t.watermark.floor
    t.observe([record("old", "completed", 5)], START)  # older than the floor: never announced
    assert t.watermark.floor == floor


def test_an_ended_run_without_completed_at_counts_only_if_it_was_seen_active() -> None:
    t = tracker()
    t.observe([record("seen", "running")], START)
    later = START + timedelta(seconds=42)
    assert ids(t.observe([record("seen", "completed"), record("unseen", "completed")], later)) == ["seen"]
    assert t.watermark.announced["seen"] == later
    assert t.observe([record("seen", "completed")], later) == []


def test_watermark_round_trips_through_json_and_a_resumed_tracker_does_not_repeat() -> None:
    first = tracker()
    first.observe([record("a", "completed", 10), record("b", "completed", 20)], START)
    stored = json.loads(json.dumps(first.watermark.to_json()))
    resumed = tracker(watermark=Watermark.from_json(stored))
    listing = [record("a", "completed", 10), record("b", "completed", 20), record("c", "completed", 30)]
    assert ids(resumed.observe(listing, START)) == ["c"]


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ("nope", "a JSON object"),
        ({"version": 9, "floor": START.isoformat(), "announced": {}}, "unknown watermark version 9"),
        ({"version": 1, "floor": "yesterday", "announced": {}}, "not an ISO-8601 timestamp"),
        ({"version": 1, "floor": START.isoformat(), "announced": []}, "'announced' is not a JSON object"),
        ({"version": 1, "floor": START.isoformat(), "announced": {"a": 3}}, "is not a job id and a timestamp"),
    ],
)
def test_a_damaged_watermark_is_refused_saying_what_is_wrong(stored: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Watermark.from_json(stored)


def test_naive_timestamps_are_read_as_utc() -> None:
    t = tracker()
    naive = RunRecord.from_api(
        {"job_id": "n", "workflow_id": "wf-a", "status": "completed", "completed_at": "2026-12-01T12:00:05"}
    )
    assert ids(t.observe([naive], START)) == ["n"]


def test_statuses_accept_the_end_statuses_in_either_spelling_and_refuse_the_rest() -> None:
    assert parse_statuses(("completed",)) == (RunStatus.COMPLETED,)
    assert parse_statuses(["canceled", "cancelled", "failed"]) == (RunStatus.CANCELLED, RunStatus.FAILED)
    assert parse_statuses("unknown") == (RunStatus.UNKNOWN,)
    for bad in (["running"], ["queued"], [], None, ["done"]):
        with pytest.raises(SixtyfourInputError, match="end status"):
            parse_statuses(bad)


def test_payload_is_plain_json_with_the_documented_fields_and_no_signed_url() -> None:
    run = record(
        "job-1",
        "failed",
        12,
        error_message="Export failed, see https://storage.example/b/x.csv?X-Signature=abc123",
        duration_ms=12_345,
        blocks_count=3,
        metrics={
            "rows_out": 40,
            "credits_used": 1.5,
            "report": "https://storage.example/r.csv?sig=zzz",
            "nested": {"a": 1},
            "nan": float("nan"),
        },
    )
    payload = run_event_payload(run, "https://app.sixtyfour.ai/workflows/runs/job-1")
    assert json.loads(json.dumps(payload, allow_nan=False)) == payload
    assert set(payload) == {"job_id", "workflow_id", "status", "completed_at", "error_message", "run_url", "metrics"}
    assert payload["status"] == "failed"
    assert payload["completed_at"] == (START + timedelta(seconds=12)).isoformat()
    assert "abc123" not in json.dumps(payload)
    assert "zzz" not in json.dumps(payload)
    assert payload["error_message"] == "Export failed, see https://storage.example/b/x.csv?<redacted>"
    assert payload["metrics"] == {
        "duration_seconds": 12.345,
        "blocks_count": 3,
        "rows_out": 40,
        "credits_used": 1.5,
        "report": "https://storage.example/r.csv?<redacted>",
        "nan": None,
    }


def test_a_failed_run_without_error_message_gives_its_status_reason() -> None:
    run = record("job-2", "failed", 1, status_reason="Block 'find_email' failed")
    assert run_event_payload(run, "u")["error_message"] == "Block 'find_email' failed"
    assert (
        run_event_payload(record("job-3", "completed", 1, status_reason="Completed successfully"), "u")["error_message"]
        is None
    )


def test_metrics_summary_keeps_a_bounded_number_of_scalars() -> None:
    run = record("j", "completed", 1, metrics={f"m{i:03d}": "x" * 500 for i in range(100)})
    summary = metrics_summary(run)
    assert len(summary) == 2 + 32
    assert all(len(v) == 200 for k, v in summary.items() if k.startswith("m"))


def test_runs_a_cut_list_can_no_longer_show_are_given_up_and_named() -> None:
    t = tracker()
    old = RunRecord.from_api(
        {"job_id": "old", "workflow_id": "wf-a", "status": "running", "queued_at": "2026-11-01T00:00:00+00:00"}
    )
    recent = record("recent", "queued")
    t.observe([old, recent], START)
    assert t.out_of_window(complete=True, oldest_queued=None) == []
    oldest = START - timedelta(days=1)
    assert ids(t.out_of_window(complete=False, oldest_queued=oldest)) == ["old"]
    assert set(t.active_runs) == {"recent"}
    assert ids(t.out_of_window(complete=False, oldest_queued=None)) == ["recent"]
