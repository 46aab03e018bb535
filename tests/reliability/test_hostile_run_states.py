"""Run states a server should not give, through the operator, the sensor and the trigger (issue 11).

* A status this provider does not know (``timeout``, ``expired``) whose ``completed_at`` is set has
  ended: the run operator (blocking and deferred), the sensor (poke and deferred) and the trigger
  fail naming it, nothing cancels the run, and a retry does not reattach to it.
* A live status about another run is never taken for the run asked for.

The API is the hostile server of ``tests/hostile.py`` (a correct little API until told otherwise).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from dags.support import ROWS, FakeTaskInstance, task_context
from helpers.connections import HOSTILE_CONN_ID
from helpers.triggers import first_event
from hostile import JOB_ID, NOW, OTHER_JOB_ID, WORKFLOW_ID, HostileServer, RunState, non_finite, response

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import SixtyfourResponseError
from airflow_provider_sixtyfour.sensors.sixtyfour import SixtyfourWorkflowRunSensor
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

HANG_GUARD = 30.0
ENDED = f"Sixtyfour run {JOB_ID} ended with status 'timeout', which this provider does not know, so it does not count"


def _operator(**kwargs: Any) -> SixtyfourRunWorkflowOperator:
    params: dict[str, Any] = {
        "task_id": "enrich",
        "workflow_id": WORKFLOW_ID,
        "webhook_payload": ROWS,
        "poll_interval": 0.1,
        "sixtyfour_conn_id": HOSTILE_CONN_ID,
    }
    params.update(kwargs)
    return SixtyfourRunWorkflowOperator(**params)


def _ended_as(api: HostileServer, status: str = "timeout") -> None:
    api.run = RunState(status=status, completed_at=NOW)


@pytest.mark.timeout(60)
def test_the_operator_fails_naming_an_unknown_status_that_ended_and_cancels_nothing(hostile_api: HostileServer) -> None:
    _ended_as(hostile_api)
    op = _operator()
    with pytest.raises(AirflowException) as raised:
        op.execute(task_context(FakeTaskInstance()))
    assert str(raised.value).startswith(ENDED)
    assert f"/runs/{JOB_ID}" in str(raised.value)  # the run's page
    op.on_kill()  # a kill after the end must not cancel either
    assert hostile_api.seen(endpoints.CANCEL_RUN) == 0
    assert hostile_api.seen(endpoints.RUN_WORKFLOW) == 1


@pytest.mark.timeout(60)
def test_a_retry_does_not_reattach_to_a_run_that_ended_in_an_unknown_status(hostile_api: HostileServer) -> None:
    _ended_as(hostile_api, "expired")
    with pytest.raises(AirflowException, match="ended with status 'expired'"):
        _operator().execute(task_context(FakeTaskInstance(try_number=1)))
    with pytest.raises(AirflowException, match="ended with status 'expired'"):
        _operator().execute(task_context(FakeTaskInstance(try_number=2)))
    # Try 2 replayed try 1's key (the API answered that run), judged it ended, and started its own.
    assert hostile_api.seen(endpoints.RUN_WORKFLOW) == 2 + 1
    assert hostile_api.seen(endpoints.CANCEL_RUN) == 0


@pytest.mark.timeout(60)
def test_the_deferred_operator_fails_naming_it_too(hostile_api: HostileServer) -> None:
    hostile_api.run = RunState(status="running", completed_at=None)
    ti = FakeTaskInstance()
    with pytest.raises(TaskDeferred) as deferred:
        _operator(deferrable=True, timeout=600).execute(task_context(ti))
    trigger = deferred.value.trigger
    trigger.poll_interval = 0.1
    _ended_as(hostile_api)
    event = asyncio.run(first_event(trigger, HANG_GUARD))
    assert (event["status"], event["job_id"]) == ("failed", JOB_ID)
    assert event["message"].startswith(ENDED)
    with pytest.raises(AirflowException) as raised:
        _operator(deferrable=True).execute_complete(task_context(ti), event)
    assert str(raised.value).startswith(ENDED)
    assert hostile_api.seen(endpoints.CANCEL_RUN) == 0


@pytest.mark.timeout(60)
def test_the_shared_poller_reads_a_listed_run_that_ended_in_an_unknown_status(hostile_api: HostileServer) -> None:
    """Two runs watched: the poller lists them; one is listed (wrongly) as active, with ``completed_at`` set."""
    hostile_api.run = RunState(status="timeout", completed_at=NOW, listed_status="timeout", listed_completed_at=NOW)

    async def watch() -> list[dict[str, Any]]:
        triggers = [
            SixtyfourWorkflowRunTrigger(job_id=job, sixtyfour_conn_id=HOSTILE_CONN_ID, poll_interval=0.1)
            for job in (JOB_ID, OTHER_JOB_ID)
        ]
        return list(await asyncio.gather(*(first_event(t, HANG_GUARD) for t in triggers)))

    events = asyncio.run(watch())
    assert [(e["status"], e["job_id"]) for e in events] == [("failed", JOB_ID), ("failed", OTHER_JOB_ID)]
    assert all("ended with status 'timeout'" in e["message"] for e in events)
    assert hostile_api.seen(endpoints.CANCEL_RUN) == 0


@pytest.mark.timeout(60)
def test_the_sensor_fails_naming_it_in_poke_and_deferred_mode(hostile_api: HostileServer) -> None:
    _ended_as(hostile_api)
    sensor = SixtyfourWorkflowRunSensor(
        task_id="watch", job_id=JOB_ID, sixtyfour_conn_id=HOSTILE_CONN_ID, poke_interval=0.1, timeout=60
    )
    with pytest.raises(AirflowFailException) as raised:
        sensor.poke(task_context(FakeTaskInstance(task_id="watch")))
    assert str(raised.value).startswith(ENDED)

    deferrable = SixtyfourWorkflowRunSensor(
        task_id="watch", job_id=JOB_ID, sixtyfour_conn_id=HOSTILE_CONN_ID, deferrable=True, timeout=60
    )
    # Its first poke sees that the run has already ended: it fails without deferring.
    with pytest.raises(AirflowFailException) as raised:
        deferrable.execute(task_context(FakeTaskInstance(task_id="watch")))
    assert str(raised.value).startswith(ENDED)

    # A run that ends while the sensor is deferred fails it from the trigger's event.
    hostile_api.run = RunState(status="running", completed_at=None)
    with pytest.raises(TaskDeferred) as deferred:
        deferrable.execute(task_context(FakeTaskInstance(task_id="watch")))
    _ended_as(hostile_api)
    deferred.value.trigger.poll_interval = 0.1
    event = asyncio.run(first_event(deferred.value.trigger, HANG_GUARD))
    with pytest.raises(AirflowFailException, match="ended with status 'timeout'"):
        deferrable.execute_complete(task_context(FakeTaskInstance(task_id="watch")), event)
    assert hostile_api.seen(endpoints.CANCEL_RUN) == 0


@pytest.mark.timeout(60)
def test_an_unknown_status_without_completed_at_is_still_going(hostile_api: HostileServer) -> None:
    hostile_api.run = RunState(status="paused-for-review", completed_at=None)
    trigger = SixtyfourWorkflowRunTrigger(
        job_id=JOB_ID, sixtyfour_conn_id=HOSTILE_CONN_ID, poll_interval=0.1, deadline=time.time() + 1.0
    )
    event = asyncio.run(first_event(trigger, HANG_GUARD))
    assert event["status"] == "timeout"
    assert "still paused-for-review at its deadline" in event["message"]


# -- a live status about another run (item 9) ------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_trigger_never_takes_another_runs_status_for_its_own(hostile_api: HostileServer) -> None:
    hostile_api.run = RunState(status="completed", completed_at=NOW, run_id=OTHER_JOB_ID)
    trigger = SixtyfourWorkflowRunTrigger(
        job_id=JOB_ID, sixtyfour_conn_id=HOSTILE_CONN_ID, poll_interval=0.1, deadline=time.time() + 1.5
    )
    event = asyncio.run(first_event(trigger, HANG_GUARD))
    assert (event["status"], event["job_id"], event["run"]) == ("timeout", JOB_ID, None)
    assert hostile_api.seen(endpoints.LIVE_STATUS) >= 2  # it kept asking, and never believed the answer


@pytest.mark.timeout(60)
def test_the_operator_never_lands_or_reports_another_runs_results(hostile_api: HostileServer) -> None:
    hostile_api.run = RunState(status="completed", completed_at=NOW, run_id=OTHER_JOB_ID)
    with pytest.raises(SixtyfourResponseError) as raised:
        _operator().execute(task_context(FakeTaskInstance()))
    assert f"the answer is about run '{OTHER_JOB_ID}', not the run asked for ('{JOB_ID}')" in str(raised.value)
    assert hostile_api.seen(endpoints.DOWNLOAD_LINKS) == 0


# -- NaN and Infinity in progress and counts (item 8) ----------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("text", ["NaN", "Infinity"])
def test_a_completed_run_with_non_finite_progress_succeeds_with_strict_json(
    hostile_api: HostileServer, text: str
) -> None:
    # The defect: a paid, completed run failed at the XCom push because its summary carried NaN.
    for route in (endpoints.LIVE_STATUS, endpoints.LIST_RUNS):
        hostile_api.break_route(route, lambda good: non_finite(good, text))
    ti = FakeTaskInstance()  # its xcom_push refuses what is not strict JSON, as Airflow's XCom does
    summary = _operator().execute(task_context(ti))
    json.dumps(summary, allow_nan=False)
    assert summary["metrics"] == {"webhook": {"row_count": None}}  # read as missing, not as NaN
    assert summary["status"] == "completed"
    assert summary["job_id"] == JOB_ID

    hostile_api.run = RunState(status="running", completed_at=None)
    deferred_ti = FakeTaskInstance(try_number=2)
    with pytest.raises(TaskDeferred) as deferred:
        _operator(deferrable=True, timeout=600, reattach=False).execute(task_context(deferred_ti))
    trigger = deferred.value.trigger
    trigger.poll_interval = 0.1
    hostile_api.run = RunState()
    event = asyncio.run(first_event(trigger, HANG_GUARD))
    json.dumps(event, allow_nan=False)  # a trigger event is strict JSON too
    assert event["status"] == "success"
    done = _operator(deferrable=True).execute_complete(task_context(deferred_ti), event)
    json.dumps(done, allow_nan=False)


# -- a told wait of a day on the shared poller (item 2) --------------------------------------------


def _once(first: bytes) -> Any:
    """A fault that answers ``first`` to the first request only, then the good answer."""
    served: list[int] = []

    def fault(good: Any) -> bytes:
        served.append(1)
        return first if len(served) == 1 else response(good.status, good.body, good.content_type)

    fault.served = served  # type: ignore[attr-defined]
    return fault


@pytest.mark.timeout(60)
def test_the_shared_poller_does_not_sit_out_a_told_wait_of_a_day(hostile_api: HostileServer) -> None:
    """One ``Retry-After: 100000`` on the list and on the live status: that cycle fails at once, the wait
    is not applied to the next, and every trigger of the connection gets its event within seconds."""
    day = response(429, b'{"detail": "slow down"}', Retry_After="100000")
    faults = {route: _once(day) for route in (endpoints.LIST_RUNS, endpoints.LIVE_STATUS)}
    for route, fault in faults.items():
        hostile_api.break_route(route, fault)

    async def watch() -> list[dict[str, Any]]:
        triggers = [
            SixtyfourWorkflowRunTrigger(job_id=job, sixtyfour_conn_id=HOSTILE_CONN_ID, poll_interval=0.2)
            for job in (JOB_ID, OTHER_JOB_ID)
        ]
        return list(await asyncio.gather(*(first_event(t, HANG_GUARD) for t in triggers)))

    began = time.monotonic()
    events = asyncio.run(watch())
    assert [e["status"] for e in events] == ["success", "success"]
    assert time.monotonic() - began < 15  # a day was asked for; a few poll cycles were spent
    assert all(fault.served for fault in faults.values())  # the day-long wait was told on both routes
