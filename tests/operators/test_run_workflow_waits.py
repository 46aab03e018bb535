"""The run operator's deadline and ``on_kill`` end the hook's own waits too (issue 11 item 2).

A status poll answered with ``429`` and ``Retry-After: 100`` (within ``max_wait``, so honoured) used to
hold the task in the hook's sleep for 100 s: past its ``timeout``, and deaf to ``on_kill``. Now the
operator binds its hook's waits to the task's deadline and stop event. Real HTTP against the emulator;
the timeouts below only catch a hang (the hook would sleep 100 s per poll), they measure nothing.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from airflow.providers.common.compat.sdk import AirflowException
from dags.support import ROWS, FakeTaskInstance, task_context, wait_for

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
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
