"""The run operator's waits under the rate limit: bounded by its deadline and ``on_kill``, never failed by 429s.

The run operator's deadline and ``on_kill`` end the hook's own waits too (issue 11 item 2).

A status poll answered with ``429`` and ``Retry-After: 100`` (within ``max_wait``, so honoured) used to
hold the task in the hook's sleep for 100 s: past its ``timeout``, and deaf to ``on_kill``. Now the
operator binds its hook's waits to the task's deadline and stop event. Real HTTP against the emulator;
the timeouts below only catch a hang (the hook would sleep 100 s per poll), they measure nothing.

And a 429 never fails the wait (the distributed drill's finding f): a rate-limited poll is polled
again later rather than counted among the failed polls that end it, and several tasks sharing one
rate-limited key all complete.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from dags.support import ROWS, FakeTaskInstance, operator_thread_setup, task_context, wait_for
from helpers.connections import sixtyfour_connection_uri_json

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.hooks.waiting import MAX_CONSECUTIVE_POLL_FAILURES
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator
from airflow_provider_sixtyfour.protocol.endpoints import LIVE_STATUS

SLOW = "wf-demo-slow"
HANG_GUARD = 60.0


@pytest.fixture
def throttled(emulator: EmulatorServer, sixtyfour_conn: str) -> EmulatorServer:
    """Every status poll is refused with 429 and a Retry-After of 100 s."""
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=429, retry_after=100))
    return emulator


@pytest.mark.timeout(HANG_GUARD)
def test_the_deadline_ends_a_told_wait_and_the_run_is_cancelled(throttled: EmulatorServer) -> None:
    op = SixtyfourRunWorkflowOperator(
        task_id="enrich", workflow_id=SLOW, webhook_payload=ROWS, poll_interval=0.2, timeout=timedelta(seconds=3)
    )
    ti = FakeTaskInstance()
    with pytest.raises(AirflowException) as info:
        op.execute(task_context(ti))

    message = str(info.value)
    assert "timed out: not finished within timeout=3 s" in message
    assert "would pass the task's deadline" in message
    assert "cancel requested" in message
    assert throttled.cancel_requests(ti.xcoms["job_id"]) == 1


@pytest.mark.timeout(HANG_GUARD)
def test_on_kill_ends_a_told_wait(throttled: EmulatorServer) -> None:
    op = SixtyfourRunWorkflowOperator(task_id="enrich", workflow_id=SLOW, webhook_payload=ROWS, poll_interval=0.2)
    ti = FakeTaskInstance()

    def kill_while_waiting() -> None:  # as Airflow would, from another thread
        wait_for(lambda: throttled.request_count(LIVE_STATUS) >= 1, HANG_GUARD)
        op.on_kill()

    killer = threading.Thread(target=kill_while_waiting, daemon=True)
    killer.start()
    with pytest.raises(AirflowException, match="killed"):
        op.execute(task_context(ti))
    killer.join(HANG_GUARD)

    assert throttled.request_count(LIVE_STATUS) == 1  # the 100 s wait was never sat out
    assert throttled.cancel_requests(ti.xcoms["job_id"]) == 1


# -- 429s are waited out, never a failure -----------------------------------------------------------

QUICK = "wf-waits-quick"


@pytest.mark.timeout(HANG_GUARD)
def test_rate_limited_polls_are_polled_later_not_counted_as_failures(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No retries in the hook, so every 429 reaches the poll loop, twice as many in a row as it
    # tolerates failed polls.
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(emulator.base_url, max_retries=0)
    )
    emulator.add_workflow(WorkflowSpec(workflow_id=QUICK, duration_seconds=0.5))
    refused = 2 * MAX_CONSECUTIVE_POLL_FAILURES
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=429, retry_after=0, count=refused))

    op = SixtyfourRunWorkflowOperator(task_id="enrich", workflow_id=QUICK, webhook_payload=ROWS, poll_interval=0.05)
    summary = op.execute(task_context(FakeTaskInstance()))

    assert summary["status"] == "completed"
    assert emulator.request_count(LIVE_STATUS) > refused
    assert emulator.runs_started() == 1


@pytest.mark.timeout(240)
def test_concurrent_tasks_sharing_one_rate_limited_key_all_complete(
    emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    """Ten tasks poll one key every 20 ms under a limit of 6 requests a second: the limit refuses
    many requests, and every task still completes with one paid run (the drill's finding f, in small)."""
    count = 10
    emulator.add_workflow(WorkflowSpec(workflow_id=QUICK, duration_seconds=4.0))
    emulator.set_rate_limit(6, window_seconds=1.0)

    def one_task(index: int) -> dict[str, Any]:
        op = SixtyfourRunWorkflowOperator(task_id="enrich", workflow_id=QUICK, webhook_payload=ROWS, poll_interval=0.02)
        return op.execute(task_context(FakeTaskInstance(map_index=index)))

    try:
        with ThreadPoolExecutor(max_workers=count, initializer=operator_thread_setup) as pool:
            summaries = list(pool.map(one_task, range(count)))
    finally:
        emulator.set_rate_limit(None)
    limited = sum(emulator.stats()["rate_limited"].values())
    print(f"\n{count} concurrent tasks on one key: {limited} requests answered 429")
    assert limited > count, "the limit was hardly reached: the test proved nothing"
    assert [s["status"] for s in summaries] == ["completed"] * count
    assert len({s["job_id"] for s in summaries}) == count
    assert emulator.runs_started() == count
