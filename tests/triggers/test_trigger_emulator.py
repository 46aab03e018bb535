"""The run trigger against the emulator over real HTTP: every way a run can end, faults, restarts, kills."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from typing import Any

import pytest
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY
from helpers.triggers import first_event

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS, LIVE_STATUS
from airflow_provider_sixtyfour.triggers.poller import (
    FALLBACK_CALLS_PER_CYCLE,
    PROGRESS_CALLS_PER_CYCLE,
    loop_pollers,
)
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

# A guard against a hung test, never an assertion on speed.
HANG_GUARD = 90.0
ROWS = [{"email": "ada@example.com", "company": "Example"}]


def start_run(workflow_id: str) -> str:
    with SixtyfourHook() as hook:
        return hook.run_workflow(workflow_id, ROWS).job_id


def trigger_for(job_id: str, **kwargs: Any) -> SixtyfourWorkflowRunTrigger:
    kwargs.setdefault("poll_interval", 0.2)
    kwargs.setdefault("deadline", time.time() + 60)
    return SixtyfourWorkflowRunTrigger(job_id=job_id, **kwargs)


def assert_plain_json_without_secrets(payload: dict[str, Any]) -> None:
    text = json.dumps(payload)
    assert json.loads(text) == payload
    assert TEST_API_KEY not in text


@pytest.fixture
def fast_workflow(emulator: EmulatorServer) -> str:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-fast", duration_seconds=1.0, queue_seconds=0.1))
    return "wf-fast"


async def test_completed_run_yields_success_with_its_final_record(sixtyfour_conn: str, fast_workflow: str) -> None:
    job_id = start_run(fast_workflow)
    payload = await first_event(trigger_for(job_id), HANG_GUARD)
    assert payload["status"] == "success"
    assert payload["job_id"] == job_id
    assert payload["message"] == f"Sixtyfour run {job_id} completed"
    assert payload["run"]["status"] == "completed"
    assert payload["run"]["run_id"] == job_id
    assert payload["run"]["completed_blocks"] == payload["run"]["total_blocks"] == 3
    assert_plain_json_without_secrets(payload)


async def test_failed_run_yields_failed_with_the_api_message(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-failing")
    payload = await first_event(trigger_for(job_id), HANG_GUARD)
    assert payload["status"] == "failed"
    assert "Email finder quota exhausted for this organization" in payload["message"]
    assert payload["run"]["status"] == "failed"
    assert_plain_json_without_secrets(payload)


async def test_cancelled_run_yields_cancelled_never_success(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-slow")
    waiting = asyncio.create_task(first_event(trigger_for(job_id), HANG_GUARD))
    await asyncio.sleep(0.5)
    with SixtyfourHook() as hook:
        hook.cancel_run(job_id)
    payload = await waiting
    assert payload["status"] == "cancelled"
    assert payload["run"]["status"] == "cancelled"
    assert payload["message"].startswith(f"Sixtyfour run {job_id} was cancelled")


async def test_deadline_yields_timeout_and_leaves_cancelling_to_the_operator(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    job_id = start_run("wf-demo-slow")
    deadline = time.time() + 1.0
    payload = await first_event(trigger_for(job_id, deadline=deadline), HANG_GUARD)
    assert time.time() >= deadline
    assert payload["status"] == "timeout"
    assert "deadline" in payload["message"]
    assert payload["run"]["status"] in ("queued", "running")
    assert emulator.cancel_requests(job_id) == 0


async def test_deadline_already_past_times_out_without_asking_the_api(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    job_id = start_run("wf-demo-slow")
    payload = await first_event(trigger_for(job_id, deadline=time.time() - 1), HANG_GUARD)
    assert payload["status"] == "timeout"
    assert payload["run"] is None
    assert emulator.request_count(LIVE_STATUS) == emulator.request_count(LIST_RUNS) == 0


async def test_wrong_key_ends_with_an_error_event_that_hides_the_key(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(emulator.base_url))
    job_id = start_run("wf-demo-slow")
    wrong_key = "sk-wrong-key-ffffffff-SECRET"
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_WRONG", sixtyfour_connection_uri_json(emulator.base_url, wrong_key))
    payload = await first_event(trigger_for(job_id, sixtyfour_conn_id="sixtyfour_wrong"), HANG_GUARD)
    assert payload["status"] == "error"
    assert "401" in payload["message"]
    assert wrong_key not in json.dumps(payload)


async def test_unknown_run_ends_with_an_error_event(sixtyfour_conn: str) -> None:
    payload = await first_event(trigger_for(str(uuid.uuid4())), HANG_GUARD)
    assert payload["status"] == "error"
    assert "404" in payload["message"]


async def test_malformed_job_id_ends_with_an_error_event_that_says_why(sixtyfour_conn: str) -> None:
    payload = await first_event(trigger_for("not-a-run-id"), HANG_GUARD)
    assert payload["status"] == "error"
    assert "UUID" in payload["message"]


async def test_missing_connection_ends_with_an_error_event_that_says_how_to_fix_it(sixtyfour_conn: str) -> None:
    payload = await first_event(trigger_for(str(uuid.uuid4()), sixtyfour_conn_id="no_such_connection"), HANG_GUARD)
    assert payload["status"] == "error"
    assert "AIRFLOW_CONN_NO_SUCH_CONNECTION" in payload["message"]


def add_status_poll_faults(emulator: EmulatorServer) -> None:
    """About 20% of status polls fail: 503, 429 with Retry-After, or a reset connection."""
    for route in (LIVE_STATUS, LIST_RUNS):
        emulator.add_fault(FaultRule(route=route, kind="status", status=503, rate=0.08, seed=1))
        emulator.add_fault(FaultRule(route=route, kind="status", status=429, rate=0.07, retry_after=0.05, seed=2))
        emulator.add_fault(FaultRule(route=route, kind="reset", rate=0.06, seed=3))


async def test_one_run_survives_a_20_percent_fault_rate(
    sixtyfour_conn: str, emulator: EmulatorServer, fast_workflow: str
) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-3s", duration_seconds=3.0))
    job_id = start_run("wf-3s")
    add_status_poll_faults(emulator)
    payload = await first_event(trigger_for(job_id, poll_interval=0.1), HANG_GUARD)
    assert payload["status"] == "success"
    assert sum(emulator.stats()["faults_fired"].values()) > 0


async def test_shared_runs_survive_a_20_percent_fault_rate(
    sixtyfour_conn: str, emulator: EmulatorServer, fast_workflow: str
) -> None:
    job_ids = [start_run(fast_workflow) for _ in range(8)]
    add_status_poll_faults(emulator)
    payloads = await asyncio.gather(*(first_event(trigger_for(j, poll_interval=0.1), HANG_GUARD) for j in job_ids))
    assert [p["status"] for p in payloads] == ["success"] * len(job_ids)
    assert sum(emulator.stats()["faults_fired"].values()) > 0


async def test_rebuilt_trigger_carries_on_with_the_same_deadline(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-3s", duration_seconds=3.0))
    job_id = start_run("wf-3s")
    first = trigger_for(job_id, deadline=time.time() + 60)
    running = asyncio.create_task(first_event(first, HANG_GUARD))
    await asyncio.sleep(1.0)
    assert not running.done()
    running.cancel()  # the triggerer stops: the trigger's task is cancelled
    with pytest.raises(asyncio.CancelledError):
        await running
    assert loop_pollers().running() == []

    classpath, kwargs = first.serialize()
    rebuilt = SixtyfourWorkflowRunTrigger(**json.loads(json.dumps(kwargs)))
    assert rebuilt.serialize() == (classpath, kwargs)
    payload = await first_event(rebuilt, HANG_GUARD)
    assert payload["status"] == "success"
    assert emulator.runs_started() == 1


async def test_rebuilt_trigger_times_out_at_the_original_deadline(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    job_id = start_run("wf-demo-slow")
    first = trigger_for(job_id, deadline=time.time() + 2.0)
    running = asyncio.create_task(first_event(first, HANG_GUARD))
    await asyncio.sleep(0.5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    rebuilt = SixtyfourWorkflowRunTrigger(**first.serialize()[1])
    payload = await first_event(rebuilt, HANG_GUARD)
    assert payload["status"] == "timeout"
    assert rebuilt.deadline == first.deadline
    assert time.time() >= first.deadline  # type: ignore[operator]


async def kill(trigger: SixtyfourWorkflowRunTrigger) -> None:
    """What Airflow 3.3's triggerer does when a user kills the task: cancel run(), then on_kill()."""
    running = asyncio.create_task(first_event(trigger, HANG_GUARD))
    await asyncio.sleep(0.5)
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    await trigger.on_kill()
    await trigger.cleanup()


async def test_on_kill_cancels_the_remote_run(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    job_id = start_run("wf-demo-slow")
    await kill(trigger_for(job_id))
    assert emulator.cancel_requests(job_id) == 1
    with SixtyfourHook() as hook:
        for _ in range(50):
            if hook.get_live_status(job_id).status.is_terminal:
                break
            await asyncio.sleep(0.1)
        assert hook.get_live_status(job_id).status.value == "cancelled"


async def test_on_kill_leaves_the_run_alone_without_cancel_on_kill(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    job_id = start_run("wf-demo-slow")
    await kill(trigger_for(job_id, cancel_on_kill=False))
    assert emulator.cancel_requests(job_id) == 0


async def test_a_stopped_trigger_never_cancels_its_run(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    job_id = start_run("wf-demo-slow")
    trigger = trigger_for(job_id)
    running = asyncio.create_task(first_event(trigger, HANG_GUARD))
    await asyncio.sleep(0.5)
    running.cancel()  # a triggerer restart: cleanup() runs, on_kill() does not
    with pytest.raises(asyncio.CancelledError):
        await running
    await trigger.cleanup()
    assert emulator.cancel_requests(job_id) == 0


async def test_fifty_triggers_share_one_poller_and_far_fewer_requests(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-3s", duration_seconds=3.0))
    job_ids = [start_run("wf-3s") for _ in range(50)]
    triggers = [trigger_for(j, poll_interval=0.25) for j in job_ids]
    waiting = asyncio.gather(*(first_event(t, HANG_GUARD) for t in triggers))
    await asyncio.sleep(0.5)
    pollers = loop_pollers().running()
    payloads = await waiting
    assert [p["status"] for p in payloads] == ["success"] * 50
    assert len(pollers) == 1
    assert loop_pollers().running() == []

    lists = emulator.request_count(LIST_RUNS)
    lives = emulator.request_count(LIVE_STATUS)
    per_run_polling = 50 * lists  # what one poller per run would have asked over as many cycles
    assert lists >= 5
    # One final record per run, plus a bounded number of progress calls a cycle.
    assert lives <= 50 + PROGRESS_CALLS_PER_CYCLE * lists
    assert lists + lives < per_run_polling / 5


async def test_the_poller_keeps_the_records_of_runs_listed_unchanged(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    # Two runs that stay running (one block: their list record does not change), so the poller lists.
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-long", duration_seconds=600, queue_seconds=0.0))
    job_ids = [start_run("wf-long") for _ in range(2)]
    triggers = [trigger_for(j, poll_interval=0.2) for j in job_ids]
    waiting = [asyncio.create_task(first_event(t, HANG_GUARD)) for t in triggers]
    try:
        await asyncio.sleep(1.0)
        (poller,) = loop_pollers().running()
        before = dict(poller._known)
        lists = emulator.request_count(LIST_RUNS)
        while emulator.request_count(LIST_RUNS) < lists + 2:
            await asyncio.sleep(0.1)
        after = poller._known
        assert set(job_ids) <= set(before)
        # Cycles later the same objects: nothing parsed anew for a run whose record did not change.
        assert all(after[j] is before[j] for j in job_ids)
    finally:
        for task in waiting:
            task.cancel()
        await asyncio.gather(*waiting, return_exceptions=True)


async def test_each_connection_gets_its_own_poller(
    sixtyfour_conn: str, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch, fast_workflow: str
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_OTHER", sixtyfour_connection_uri_json(emulator.base_url))
    first, second = start_run(fast_workflow), start_run(fast_workflow)
    waiting = asyncio.gather(
        first_event(trigger_for(first), HANG_GUARD),
        first_event(trigger_for(second, sixtyfour_conn_id="sixtyfour_other"), HANG_GUARD),
    )
    await asyncio.sleep(0.3)
    assert sorted(p.key.conn_id for p in loop_pollers().running()) == ["sixtyfour_default", "sixtyfour_other"]
    assert [p["status"] for p in await waiting] == ["success", "success"]


def test_each_event_loop_gets_its_own_poller(sixtyfour_conn: str, fast_workflow: str) -> None:
    import threading

    job_ids = [start_run(fast_workflow) for _ in range(6)]
    results: dict[int, tuple[list[str], int]] = {}

    async def watch(ids: list[str]) -> tuple[list[str], int]:
        waiting = asyncio.gather(*(first_event(trigger_for(j), HANG_GUARD) for j in ids))
        await asyncio.sleep(0.3)
        pollers = len(loop_pollers().running())
        return [p["status"] for p in await waiting], pollers

    def in_own_loop(index: int, ids: list[str]) -> None:
        results[index] = asyncio.run(watch(ids))

    threads = [threading.Thread(target=in_own_loop, args=(i, job_ids[i * 3 : i * 3 + 3])) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_GUARD)
    assert results == {0: (["success"] * 3, 1), 1: (["success"] * 3, 1)}


async def test_progress_is_logged_once_per_change_and_never_the_key(
    sixtyfour_conn: str,
    emulator: EmulatorServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-3s", duration_seconds=3.0))
    job_id = start_run("wf-3s")
    caplog.set_level(logging.INFO)
    payload = await first_event(trigger_for(job_id, poll_interval=0.1), HANG_GUARD)
    assert payload["status"] == "success"
    # Airflow 3 logs through structlog to stdout, Airflow 2 through logging (and echoes it there too).
    prefix = f"Sixtyfour run {job_id} is "
    text = caplog.text if prefix in caplog.text else capsys.readouterr().out
    lines = [line[line.index(prefix) :].split(" [")[0] for line in text.splitlines() if prefix in line]
    assert any("% done, block " in line and "blocks completed" in line for line in lines)
    assert len(lines) == len(set(lines))
    assert TEST_API_KEY not in text


@pytest.mark.slow
async def test_more_active_runs_than_one_list_holds_are_still_all_seen_ending(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    # 520 runs in flight: the org-wide active list stops at 500, so the poller asks per workflow.
    # (Starting 520 runs and reading 520 final records would exceed 500 requests a minute.)
    emulator.set_rate_limit(None)
    for name in ("wf-a", "wf-b"):
        emulator.add_workflow(WorkflowSpec(workflow_id=name, duration_seconds=8.0))
    with SixtyfourHook() as hook:
        job_ids = [hook.run_workflow(("wf-a", "wf-b")[i % 2], ROWS).job_id for i in range(520)]
    payloads = await asyncio.gather(*(first_event(trigger_for(j, poll_interval=0.5), HANG_GUARD) for j in job_ids))
    assert [p["status"] for p in payloads] == ["success"] * 520

    requests = emulator.stats()["requests"][LIST_RUNS]
    lists, lives = sum(requests.values()), emulator.request_count(LIVE_STATUS)
    assert lists < 520  # a few list calls per cycle, not one call per run
    assert lives <= 520 + (PROGRESS_CALLS_PER_CYCLE + FALLBACK_CALLS_PER_CYCLE) * lists
