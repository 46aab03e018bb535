"""The run trigger's event: built from the typed live status, strict JSON, and read back typed."""

from __future__ import annotations

import json

from airflow_provider_sixtyfour.protocol.models import LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.trigger_events import RunEvent

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"


def live(status: str, **raw: object) -> LiveStatus:
    return LiveStatus.from_api({"run_id": JOB, "workflow_id": "wf", "overall_status": status, **raw})


def test_an_ended_run_maps_to_its_event_status_with_the_end_described() -> None:
    assert RunEvent.ended(live("completed")).status == "success"
    failed = RunEvent.ended(live("failed", error_message="quota"))
    assert (failed.status, failed.message) == ("failed", f"Sixtyfour run {JOB} failed: quota")
    assert RunEvent.ended(live("canceled")).status == "cancelled"
    # A status this provider does not know never completed.
    expired = RunEvent.ended(live("expired", completed_at="2026-05-01T12:00:00Z"))
    assert expired.status == "failed"
    assert "ended with status 'expired'" in expired.message


def test_the_event_is_strict_json_and_reads_back_typed() -> None:
    run = live("expired", completed_at="2026-05-01T12:00:00Z", status_reason="too slow")
    event = json.loads(json.dumps(RunEvent.ended(run).to_json(), allow_nan=False))
    back = RunEvent.from_json(event).run
    assert back == run
    assert back is not None
    assert (back.reported_status, back.has_ended, back.error_message) == ("expired", True, "too slow")


def test_events_without_a_run_or_of_earlier_versions() -> None:
    error = RunEvent("error", JOB, "HTTP 401").to_json()
    assert error == {"status": "error", "job_id": JOB, "message": "HTTP 401", "run": None}
    assert RunEvent.from_json(error) == RunEvent("error", JOB, "HTTP 401")
    old = {"status": "success", "job_id": JOB, "message": "", "run": {"status": "completed"}}
    back = RunEvent.from_json(old).run
    assert back is not None
    assert (back.run_id, back.status) == (JOB, RunStatus.COMPLETED)
