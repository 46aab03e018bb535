"""A deferred task cleared by a user: its run is cancelled and the next try starts a new one (finding e).

Airflow 3.3 calls the trigger's ``on_kill`` when a user clears a deferred task, but on the triggerer's
next loop; the next try is queued at once and may read the run first, still running. The distributed
drill saw such a try reattach, then fail on the cancel. Here the next try runs before ``on_kill`` (the
real trigger's, against the emulator over real HTTP), which is the order that failed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from dags.support import ROWS, FakeTaskInstance, FakeTaskStateStore, task_context, wait_for

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from airflow_provider_sixtyfour.idempotency import Reuse, RunLedger, StartRecord, reuse_verdict
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

SLOW = "wf-demo-slow"
QUICK = "wf-cleared-quick"
HANG_GUARD = 60.0


def operator(**kwargs: Any) -> SixtyfourRunWorkflowOperator:
    params: dict[str, Any] = {"task_id": "enrich", "workflow_id": SLOW, "webhook_payload": ROWS, "deferrable": True}
    params.update(kwargs)
    return SixtyfourRunWorkflowOperator(**params)


def defer(op: SixtyfourRunWorkflowOperator, try_number: int, store: FakeTaskStateStore) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(task_context(FakeTaskInstance(try_number=try_number), store))
    return deferred.value


def cancelled(emulator: EmulatorServer, job_id: str) -> bool:
    return (emulator.get_run(job_id) or {}).get("status") in ("cancelled", "canceled")


def test_the_try_after_a_clear_starts_a_new_run_before_on_kill_lands(
    emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    store = FakeTaskStateStore()
    first = defer(operator(), 1, store)
    assert RunLedger(store).read().deferred_by_try == 1  # type: ignore[union-attr]

    # The user clears the task; the next try runs before the triggerer calls on_kill.
    second = defer(operator(), 2, store)
    assert second.trigger.job_id != first.trigger.job_id
    assert emulator.runs_started() == 2
    wait_for(lambda: cancelled(emulator, first.trigger.job_id), HANG_GUARD)  # the new try cancelled it
    asyncio.run(first.trigger.on_kill())  # on_kill lands late: harmless
    assert cancelled(emulator, first.trigger.job_id)
    assert not cancelled(emulator, second.trigger.job_id)
    record = RunLedger(store).read()
    assert record is not None
    assert (record.try_number, record.job_id, record.deferred_by_try) == (2, second.trigger.job_id, 2)


def test_the_try_after_on_kill_landed_starts_a_new_run(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    store = FakeTaskStateStore()
    first = defer(operator(), 1, store)
    asyncio.run(first.trigger.on_kill())
    second = defer(operator(), 2, store)
    assert second.trigger.job_id != first.trigger.job_id
    assert emulator.runs_started() == 2


def test_a_try_that_resumed_and_then_failed_is_reattached_to(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    store = FakeTaskStateStore()
    first = defer(operator(), 1, store)
    job_id = first.trigger.job_id
    error = {"status": "error", "job_id": job_id, "message": "GET ... failed with HTTP 401", "run": None}
    with pytest.raises(AirflowException, match="HTTP 401"):
        operator().execute_complete(task_context(FakeTaskInstance(try_number=1), store), error)
    assert RunLedger(store).read().deferred_by_try is None  # type: ignore[union-attr]

    second = defer(operator(), 2, store)
    assert second.trigger.job_id == job_id
    assert emulator.runs_started() == 1
    assert emulator.cancel_requests(job_id) == 0


def test_without_cancel_on_kill_a_cleared_try_is_reattached_to(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    store = FakeTaskStateStore()
    first = defer(operator(cancel_on_kill=False), 1, store)
    assert RunLedger(store).read().deferred_by_try is None  # type: ignore[union-attr]
    second = defer(operator(cancel_on_kill=False), 2, store)
    assert second.trigger.job_id == first.trigger.job_id
    assert emulator.runs_started() == 1


def test_a_cleared_try_whose_run_completed_meanwhile_is_not_paid_twice(
    emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id=QUICK, duration_seconds=0.3))
    store = FakeTaskStateStore()
    first = defer(operator(workflow_id=QUICK), 1, store)
    wait_for(lambda: (emulator.get_run(first.trigger.job_id) or {}).get("status") == "completed", HANG_GUARD)
    summary = operator(workflow_id=QUICK).execute(task_context(FakeTaskInstance(try_number=2), store))
    assert summary["job_id"] == first.trigger.job_id
    assert emulator.runs_started() == 1
    assert emulator.cancel_requests(first.trigger.job_id) == 0


@pytest.mark.parametrize(
    ("status", "ended", "abandoned", "verdict"),
    [
        (RunStatus.RUNNING, False, False, Reuse.REATTACH),
        (RunStatus.QUEUED, False, False, Reuse.REATTACH),
        (RunStatus.COMPLETED, True, False, Reuse.REATTACH),
        (RunStatus.RUNNING, False, True, Reuse.CANCEL_AND_START_NEW),
        (RunStatus.QUEUED, False, True, Reuse.CANCEL_AND_START_NEW),
        (RunStatus.UNKNOWN, False, True, Reuse.CANCEL_AND_START_NEW),
        (RunStatus.COMPLETED, True, True, Reuse.REATTACH),
        (RunStatus.CANCELLED, True, True, Reuse.START_NEW),
        (RunStatus.FAILED, True, False, Reuse.START_NEW),
        (RunStatus.UNKNOWN, True, False, Reuse.START_NEW),
    ],
)
def test_reuse_verdict(status: RunStatus, ended: bool, abandoned: bool, verdict: Reuse) -> None:
    assert reuse_verdict(status, ended, abandoned) is verdict


def test_only_an_earlier_deferred_try_marks_a_run_abandoned() -> None:
    record = StartRecord(1, "key", "job", "wf", None, deferred_by_try=1)
    assert record.abandoned_while_deferred(2)
    assert not record.abandoned_while_deferred(1)  # the same try resuming
    assert not StartRecord(1, "key", "job").abandoned_while_deferred(2)
    assert not StartRecord(1, "key", None, deferred_by_try=1).abandoned_while_deferred(2)
    assert StartRecord.from_json(record.to_json()) == record
    assert StartRecord.from_json({**record.to_json(), "deferred_by_try": True}) == StartRecord(1, "key", "job", "wf")
