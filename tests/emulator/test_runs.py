"""Runs: submission, idempotency, progress over time, outcomes, cancellation, and listing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from emulator.helpers import FAILING, FAST, SLOW, Api


def test_run_starts_queued_with_a_uuid(api: Api, server: EmulatorServer) -> None:
    answer = api.start(FAST, {"name": "Ada"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "queued"
    assert body["workflow_id"] == FAST
    assert body["already_started"] is False
    assert body["cache_config"] is None
    assert str(uuid.UUID(body["job_id"])) == body["job_id"]
    assert server.runs_started() == 1
    assert api.live(body["job_id"])["overall_status"] == "queued"


def test_idempotency_key_deduplicates_per_api_key(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(api_keys=[TEST_API_KEY, "second-key"])
    first, second = Api(server.base_url), Api(server.base_url, api_key="second-key")
    a = first.start(FAST, [{"name": "Ada"}], key="same").json()
    b = first.start(FAST, [{"name": "Ada"}], key="same").json()
    assert b["job_id"] == a["job_id"]
    assert b["already_started"] is True
    assert server.runs_started() == 1
    # Another API key has its own key space; no key at all never deduplicates.
    c = second.start(FAST, [{"name": "Ada"}], key="same").json()
    assert c["job_id"] != a["job_id"]
    assert c["already_started"] is False
    first.start_ok(FAST)
    first.start_ok(FAST)
    assert server.runs_started() == 4
    assert server.stats()["idempotent_replays"] == 1
    # The same key for a different request is a conflict, not a silent replay.
    conflict = first.start(SLOW, [{"name": "Ada"}], key="same")
    assert conflict.status_code == 409
    assert "Idempotency-Key" in conflict.json()["detail"]


def test_progress_advances_block_by_block(make_server: Callable[..., EmulatorServer]) -> None:
    spec = WorkflowSpec(workflow_id="wf-steps", duration_seconds=1.5, queue_seconds=0.2, rows_out=40)
    server = make_server(workflows=[spec])
    api = Api(server.base_url)
    job_id = api.start_ok("wf-steps", [{"name": "Ada"}])
    snapshots = []
    while True:
        live = api.live(job_id)
        snapshots.append(live)
        if live["overall_status"] == "completed":
            break
        time.sleep(0.03)
    statuses = [s["overall_status"] for s in snapshots]
    assert statuses[0] == "queued"
    assert "running" in statuses
    assert snapshots[0]["estimation_blocked_by"] == "queue"
    running = [s for s in snapshots if s["overall_status"] == "running"]
    assert {s["current_block"] for s in running} == {"webhook", "enrich_lead", "find_email"}
    progress = [s["overall_progress_percentage"] for s in snapshots]
    assert progress == sorted(progress)
    assert progress[-1] == 100.0
    for snap in running:
        current = [b for b in snap["blocks"] if b["status"] == "running"]
        assert len(current) == 1
        block = current[0]
        assert snap["current_block_sequence"] == block["sequence_number"]
        assert 0 <= block["progress_percentage"] < 100
        assert block["total_count"] == 40
        assert block["processed_count"] == block["metrics"]["row_count"] <= 40
        before = snap["blocks"][: block["sequence_number"] - 1]
        after = snap["blocks"][block["sequence_number"] :]
        assert all(b["status"] == "completed" and b["processed_count"] == 40 for b in before)
        assert all(b["status"] == "pending" and b["processed_count"] == 0 for b in after)
        assert snap["completed_blocks"] == len(before)
    final = snapshots[-1]
    assert final["completed_blocks"] == final["total_blocks"] == 3
    assert final["current_block"] is None
    assert final["completed_at"] is not None
    assert all(b["metrics"]["row_count"] == 40 for b in final["blocks"])
    assert next(b["previous_block_ids"] for b in final["blocks"]) == []
    assert final["blocks"][1]["previous_block_ids"] == [final["blocks"][0]["block_id"]]


def test_time_scale_makes_runs_fast(make_server: Callable[..., EmulatorServer]) -> None:
    spec = WorkflowSpec(workflow_id="wf-hour", duration_seconds=3600, queue_seconds=10)
    server = make_server(workflows=[spec], time_scale=0.0001)
    api = Api(server.base_url)
    job_id = api.start_ok("wf-hour")
    assert api.wait_terminal(job_id, timeout=20)["overall_status"] == "completed"
    (record,) = api.get("/workflows/runs").json()
    assert 0 < record["duration_ms"] < 3_600_000


def test_failed_run(api: Api) -> None:
    job_id = api.start_ok(FAILING, [{"name": "Grace"}])
    live = api.wait_terminal(job_id)
    assert live["overall_status"] == "failed"
    assert [b["status"] for b in live["blocks"]] == ["completed", "failed", "pending"]
    failed = live["blocks"][1]
    assert failed["error_message"] == "Lead provider timed out"
    assert 0 < failed["progress_percentage"] < 100
    (record,) = api.get("/workflows/runs", params={"workflow_id": FAILING}).json()
    assert record["status"] == "failed"
    assert record["error_message"] == "Lead provider timed out"
    assert "enrich_lead" in record["status_reason"]
    # Files exist only for the blocks that completed.
    assert [link["block_number"] for link in api.links(job_id)] == [1]


def test_cancel_in_flight_takes_effect_after_the_delay(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(cancel_delay_seconds=0.5)
    api = Api(server.base_url)
    job_id = api.start_ok(SLOW)
    answer = api.post("/workflows/cancel", params={"job_id": job_id}, json={})
    assert answer.status_code == 200
    assert answer.json() == {"job_id": job_id, "status": "canceled"}
    assert api.live(job_id)["overall_status"] in ("queued", "running")  # not at once
    live = api.wait_terminal(job_id)
    assert live["overall_status"] == "canceled"
    assert live["completed_at"] is not None
    (record,) = api.get("/workflows/runs", params={"status": "cancelled"}).json()
    assert record["job_id"] == job_id
    assert record["status"] == "cancelled"
    assert api.get("/workflows/runs", params={"status": "active"}).json() == []
    # Cancelling again answers the terminal status unchanged; every request is counted.
    again = api.post("/workflows/cancel", params={"job_id": job_id})
    assert again.json()["status"] == "canceled"
    assert server.cancel_requests(job_id) == 2
    snapshot = server.get_run(job_id)
    assert snapshot is not None
    assert snapshot["cancel_requests"] == 2
    assert snapshot["status"] == "cancelled"


def test_cancel_of_a_finished_run_answers_its_status(api: Api, server: EmulatorServer) -> None:
    done = api.start_ok(FAST)
    failed = api.start_ok(FAILING)
    api.wait_terminal(done)
    api.wait_terminal(failed)
    assert api.post("/workflows/cancel", params={"job_id": done}).json()["status"] == "completed"
    assert api.post("/workflows/cancel", params={"job_id": failed}).json()["status"] == "failed"
    time.sleep(0.3)
    assert api.live(done)["overall_status"] == "completed"
    assert server.cancel_requests(done) == 1
    assert server.cancel_requests(str(uuid.uuid4())) == 0


def test_cancel_unknown_run_is_404(api: Api) -> None:
    answer = api.post("/workflows/cancel", params={"job_id": str(uuid.uuid4())})
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Run not found"}


def test_list_filters_limit_and_order(api: Api) -> None:
    fast = [api.start_ok(FAST) for _ in range(3)]
    slow = [api.start_ok(SLOW) for _ in range(2)]
    cancelled = api.start_ok(SLOW)
    api.post("/workflows/cancel", params={"job_id": cancelled})
    for job_id in fast:
        api.wait_terminal(job_id)
    api.wait_terminal(cancelled)

    def ids(**params: str) -> list[str]:
        answer = api.get("/workflows/runs", params=params)
        assert answer.status_code == 200, answer.text
        return [r["job_id"] for r in answer.json()]

    newest_first = [cancelled, *reversed(slow), *reversed(fast)]
    assert ids() == newest_first
    assert ids(limit="2") == newest_first[:2]
    assert ids(status="completed") == list(reversed(fast))
    assert ids(status="active") == list(reversed(slow))
    assert ids(status="running") == list(reversed(slow))
    assert ids(status="cancelled") == [cancelled]
    assert ids(workflow_id=FAST, limit="2") == list(reversed(fast))[:2]
    assert ids(workflow_id=SLOW, status="active") == list(reversed(slow))
    assert ids(workflow_id="wf-unknown") == []
    queued_at = [r["queued_at"] for r in api.get("/workflows/runs").json()]
    assert queued_at == sorted(queued_at, reverse=True)


def test_active_filter_distinguishes_queued_from_running(make_server: Callable[..., EmulatorServer]) -> None:
    spec = WorkflowSpec(workflow_id="wf-long-queue", duration_seconds=60, queue_seconds=60)
    server = make_server(workflows=[spec])
    api = Api(server.base_url)
    job_id = api.start_ok("wf-long-queue")
    assert [r["job_id"] for r in api.get("/workflows/runs", params={"status": "active"}).json()] == [job_id]
    assert api.get("/workflows/runs", params={"status": "running"}).json() == []


def test_runs_are_per_organisation(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(api_keys={TEST_API_KEY: "org-a", "key-a2": "org-a", "key-b": "org-b"})
    a1, a2, b = (Api(server.base_url, api_key=k) for k in (TEST_API_KEY, "key-a2", "key-b"))
    run_a = a1.start_ok(SLOW)
    run_a2 = a2.start_ok(SLOW)
    run_b = b.start_ok(SLOW)
    assert {r["job_id"] for r in a1.get("/workflows/runs").json()} == {run_a, run_a2}
    assert [r["job_id"] for r in b.get("/workflows/runs").json()] == [run_b]
    assert a2.get(f"/workflows/runs/{run_a}/live_status").status_code == 200
    assert b.get(f"/workflows/runs/{run_a}/live_status").status_code == 404
    assert b.post("/workflows/cancel", params={"job_id": run_a}).status_code == 404
    assert server.cancel_requests(run_a) == 0


def test_list_active_over_thousands_of_runs(make_server: Callable[..., EmulatorServer]) -> None:
    """The active index stays right as runs finish among thousands (correctness, not timing)."""
    fast = WorkflowSpec(workflow_id="wf-instant", duration_seconds=0.0, queue_seconds=0.0)
    slow = WorkflowSpec(workflow_id=SLOW, duration_seconds=600, queue_seconds=0.0)
    server = make_server(workflows=[fast, slow], rate_limit_per_minute=None)
    api = Api(server.base_url)
    slow_ids = set()
    for i in range(1500):
        if i % 3 == 0:
            slow_ids.add(api.start_ok(SLOW))
        else:
            api.start_ok("wf-instant")
    active = api.get("/workflows/runs", params={"status": "active", "limit": "500"}).json()
    assert len(active) == 500
    assert {r["job_id"] for r in active} <= slow_ids
    completed = api.get("/workflows/runs", params={"status": "completed", "limit": "500"}).json()
    assert len(completed) == 500
    assert not {r["job_id"] for r in completed} & slow_ids
    assert server.stats()["runs_by_status"] == {"completed": 1000, "running": 500}
