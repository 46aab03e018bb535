"""The run sensor's own logic against the emulator over real HTTP: each poke outcome, deferral, event handling.

The same sensor through real Airflow (``airflow dags test``) is in ``test_sensor_dags.py``.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    PokeReturnValue,
    TaskDeferred,
)
from dags.support import FakeTaskInstance, task_context, wait_for

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
from airflow_provider_sixtyfour.protocol.endpoints import LIVE_STATUS
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, SixtyfourInputError, SixtyfourNotFoundError
from airflow_provider_sixtyfour.protocol.models import LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.sensors.sixtyfour import SixtyfourWorkflowRunSensor
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

ROWS = [{"email": "ada@example.com"}]


def start_run(workflow_id: str) -> str:
    with SixtyfourHook() as hook:
        return hook.run_workflow(workflow_id, ROWS).job_id


def wait_until_terminal(job_id: str) -> None:
    with SixtyfourHook() as hook:
        for _ in range(200):
            if hook.get_live_status(job_id).status.is_terminal:
                return
            time.sleep(0.1)
    raise AssertionError(f"run {job_id} did not end")


def sensor(job_id: str, **kwargs: Any) -> SixtyfourWorkflowRunSensor:
    kwargs.setdefault("poke_interval", 0.1)
    return SixtyfourWorkflowRunSensor(task_id="watch", job_id=job_id, **kwargs)


def test_poke_is_false_while_running_then_returns_the_run_summary(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-webhook")
    watch = sensor(job_id)
    assert watch.poke({}) is False
    wait_until_terminal(job_id)
    done = watch.poke({})
    assert isinstance(done, PokeReturnValue)
    assert done.is_done
    assert done.xcom_value["status"] == "completed"
    assert done.xcom_value["run_id"] == job_id


def test_failed_run_fails_the_poke_with_the_api_message(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-failing")
    wait_until_terminal(job_id)
    with pytest.raises(AirflowFailException, match="Email finder quota exhausted for this organization"):
        sensor(job_id).poke({})


def test_cancelled_run_never_satisfies_the_sensor(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-slow")
    with SixtyfourHook() as hook:
        hook.cancel_run(job_id)
    wait_until_terminal(job_id)
    with pytest.raises(AirflowFailException, match="was cancelled"):
        sensor(job_id).poke({})


def test_soft_fail_turns_a_failed_run_into_a_skip(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-failing")
    wait_until_terminal(job_id)
    with pytest.raises(AirflowSkipException):
        sensor(job_id, soft_fail=True, timeout=60).execute({})


def test_unknown_run_fails_at_once_without_retries(sixtyfour_conn: str) -> None:
    with pytest.raises(AirflowFailException, match="HTTP 404") as raised:
        sensor(str(uuid.uuid4())).poke({})
    assert isinstance(raised.value.__cause__, SixtyfourNotFoundError)


def test_unknown_run_with_soft_fail_is_skipped(sixtyfour_conn: str) -> None:
    with pytest.raises(AirflowSkipException):
        sensor(str(uuid.uuid4()), soft_fail=True, timeout=60).execute({})


def test_malformed_job_id_fails_before_any_request(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    with pytest.raises(AirflowFailException, match="UUID") as raised:
        sensor("not-a-run-id").execute({})
    assert isinstance(raised.value.__cause__, SixtyfourInputError)
    assert emulator.stats()["requests_total"] == 0


def test_transient_errors_count_as_not_yet(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    job_id = start_run("wf-demo-webhook")
    wait_until_terminal(job_id)
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=503, count=100))
    assert sensor(job_id).poke({}) is False
    emulator.clear_faults()
    assert isinstance(sensor(job_id).poke({}), PokeReturnValue)


def test_deferrable_mode_defers_with_an_absolute_deadline_and_never_cancels(sixtyfour_conn: str) -> None:
    job_id = start_run("wf-demo-slow")
    before = time.time()
    with pytest.raises(TaskDeferred) as deferred:
        sensor(job_id, deferrable=True, timeout=600, poke_interval=7).execute({})
    trigger = deferred.value.trigger
    assert isinstance(trigger, SixtyfourWorkflowRunTrigger)
    kwargs = trigger.serialize()[1]
    assert kwargs["job_id"] == job_id
    assert kwargs["cancel_on_kill"] is False
    assert kwargs["poll_interval"] == 7.0
    assert before + 600 <= kwargs["deadline"] <= time.time() + 600
    assert deferred.value.method_name == "execute_complete"


RUN = LiveStatus(run_id="j", workflow_id="wf", status=RunStatus.COMPLETED, completed_blocks=2, total_blocks=2)


def test_deferrable_mode_pokes_once_first_so_an_ended_run_costs_no_deferral(
    sixtyfour_conn: str, emulator: EmulatorServer
) -> None:
    done = start_run("wf-demo-webhook")
    wait_until_terminal(done)
    run = sensor(done, deferrable=True, timeout=600).execute({})  # no TaskDeferred
    assert (run["run_id"], run["status"]) == (done, "completed")

    failed = start_run("wf-demo-failing")
    wait_until_terminal(failed)
    with pytest.raises(AirflowFailException, match="Email finder quota exhausted"):
        sensor(failed, deferrable=True, timeout=600).execute({})
    with pytest.raises(AirflowSkipException):
        sensor(failed, deferrable=True, timeout=600, soft_fail=True).execute({})

    # A transient error at that first poke only means "defer".
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=503, count=100))
    with pytest.raises(TaskDeferred):
        sensor(done, deferrable=True, timeout=600).execute({})


def event(status: str, message: str = "msg") -> dict[str, Any]:
    return {"status": status, "job_id": "j", "message": message, "run": RUN.to_json()}


def test_execute_complete_maps_each_event() -> None:
    watch = sensor("3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31")
    assert watch.execute_complete({}, event("success")) == RUN.to_json()
    # An event of an earlier version carried the run as a plain dict without reported_status.
    old = {**event("success"), "run": {"run_id": "j", "workflow_id": "wf", "status": "completed", "blocks": []}}
    assert watch.execute_complete({}, old)["status"] == "completed"
    with pytest.raises(AirflowSensorTimeout, match="deadline passed"):
        watch.execute_complete({}, event("timeout", "deadline passed"))
    with pytest.raises(AirflowFailException, match="quota"):
        watch.execute_complete({}, event("failed", "quota"))
    with pytest.raises(AirflowFailException, match="cancelled"):
        watch.execute_complete({}, event("cancelled", "was cancelled"))
    with pytest.raises(SixtyfourError, match="401"):
        watch.execute_complete({}, event("error", "HTTP 401"))


@pytest.mark.parametrize("status", ["timeout", "failed", "cancelled"])
def test_soft_fail_skips_on_resumed_timeouts_and_failures(status: str) -> None:
    watch = sensor("3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31", soft_fail=True)
    with pytest.raises(AirflowSkipException):
        watch.resume_execution("execute_complete", {"event": event(status)}, {})  # type: ignore[arg-type]


# -- the hook's own waits end with the sensor's timeout and on_kill (issue 11 item 2) ---------------

HANG_GUARD = 60.0


@pytest.mark.timeout(HANG_GUARD)
def test_the_sensor_timeout_ends_a_told_wait(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    """A poll answered 429 with Retry-After: 100 (within max_wait, so honoured) must not hold a sensor
    with a 3 s timeout for 100 s: the wait is refused, the poke is a 'not yet', and the timeout fires."""
    job_id = start_run("wf-demo-slow")
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=429, retry_after=100))
    began = time.monotonic()
    with pytest.raises(AirflowSensorTimeout):
        sensor(job_id, timeout=3, poke_interval=0.2).execute(task_context(FakeTaskInstance(task_id="watch")))
    assert time.monotonic() - began < 30
    # Poked again and again, each poke a quick 'not yet': the hook's rate-limit gate remembers the told
    # wait, so no request reached the API before it had passed.
    assert emulator.request_count(LIVE_STATUS) == 1


@pytest.mark.timeout(HANG_GUARD)
def test_on_kill_ends_a_told_wait(sixtyfour_conn: str, emulator: EmulatorServer) -> None:
    job_id = start_run("wf-demo-slow")
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=429, retry_after=100))
    watcher = sensor(job_id)

    def kill_while_waiting() -> None:  # as Airflow would, from another thread
        wait_for(lambda: emulator.request_count(LIVE_STATUS) >= 1, HANG_GUARD)
        time.sleep(0.2)
        watcher.on_kill()

    killer = threading.Thread(target=kill_while_waiting, daemon=True)
    killer.start()
    with pytest.raises(AirflowException, match="the task was killed"):
        watcher.execute(task_context(FakeTaskInstance(task_id="watch")))
    killer.join(HANG_GUARD)
    assert emulator.request_count(LIVE_STATUS) == 1
