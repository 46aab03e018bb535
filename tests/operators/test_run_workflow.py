"""``SixtyfourRunWorkflowOperator.execute`` against the emulator over real HTTP.

The task context is a small stand-in (``dags.support``); every API call is real. The same paths run
through the real ``airflow dags test`` in ``test_run_workflow_dags.py``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, TaskDeferred
from dags.support import ROWS, FakeTaskInstance, FakeTaskStateStore, task_context, wait_for
from helpers.keys import TEST_API_KEY
from helpers.triggers import first_event

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
from airflow_provider_sixtyfour.idempotency import RunLedger, StartRecord, TaskInstanceIdentity
from airflow_provider_sixtyfour.links.sixtyfour import SixtyfourRunLink
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator
from airflow_provider_sixtyfour.protocol.endpoints import (
    LIVE_STATUS,
    RESOURCE_HANDLE_SPEC_KEY,
    RUN_WORKFLOW,
    UPLOAD_CSV,
)
from airflow_provider_sixtyfour.protocol.errors import SixtyfourTransportError
from airflow_provider_sixtyfour.transfers.errors import SixtyfourTargetExistsError
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

FAST = "wf-op-fast"
CSV_FLOW = "wf-op-csv"
FAILING = "wf-demo-failing"
SLOW = "wf-demo-slow"
HANG_GUARD = 60.0


@pytest.fixture
def api(emulator: EmulatorServer, sixtyfour_conn: str) -> EmulatorServer:
    """The emulator with two quick workflows, and the default connection pointing at it."""
    emulator.add_workflow(WorkflowSpec(workflow_id=FAST, first_block="webhook", duration_seconds=1.0))
    emulator.add_workflow(WorkflowSpec(workflow_id=CSV_FLOW, first_block="read_csv", duration_seconds=1.0))
    return emulator


def operator(**kwargs: Any) -> SixtyfourRunWorkflowOperator:
    params: dict[str, Any] = {"task_id": "enrich", "workflow_id": FAST, "webhook_payload": ROWS, "poll_interval": 0.2}
    params.update(kwargs)
    return SixtyfourRunWorkflowOperator(**params)


def run_requests(emulator: EmulatorServer) -> int:
    return emulator.request_count(RUN_WORKFLOW)


# -- the happy path -------------------------------------------------------------------------------


def test_completed_run_returns_a_json_safe_summary(api: EmulatorServer) -> None:
    ti = FakeTaskInstance()
    summary = operator().execute(task_context(ti))

    assert summary["status"] == "completed"
    assert summary["job_id"] == ti.xcoms["job_id"]
    assert summary["workflow_id"] == FAST
    assert summary["run_url"] == ti.xcoms["run_url"]
    assert summary["run_url"].endswith(summary["job_id"])
    assert summary["progress_percentage"] == 100
    assert summary["completed_blocks"] == summary["total_blocks"] == 3
    assert summary["duration_seconds"] > 0
    assert summary["started_at"]
    assert summary["completed_at"]
    files = summary["result_files"]
    assert [f["block_number"] for f in files] == [1, 2, 3]
    assert all(f["row_count"] == len(ROWS) for f in files)
    assert summary["output_rows"] == len(ROWS)
    assert summary["metrics"]["find_email"]["row_count"] == len(ROWS)
    text = json.dumps(summary)  # JSON-safe, and no signed download URL in it
    assert "download" not in text
    assert "?" not in text
    assert ti.xcoms["workflow_id"] == FAST
    assert api.runs_started() == 1


def test_job_id_and_run_url_reach_xcom_before_any_waiting(api: EmulatorServer) -> None:
    seen: dict[str, Any] = {}

    def on_push(key: str, value: Any) -> None:
        if key == "job_id":
            seen["status"] = api.get_run(value)["status"]
            seen["status_polls"] = api.request_count(LIVE_STATUS)
        seen.setdefault("keys", []).append(key)

    ti = FakeTaskInstance(on_push=on_push)
    operator().execute(task_context(ti))

    assert seen["status"] in ("queued", "running")
    assert seen["status_polls"] == 0
    assert seen["keys"][:3] == ["job_id", "workflow_id", "run_url"]
    link_key = getattr(SixtyfourRunLink(), "xcom_key", None)
    if link_key:  # Airflow 3: the UI reads the link from its own XCom, written at start too
        assert ti.xcoms[link_key] == ti.xcoms["run_url"]


def logged(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> str:
    """Everything logged so far: Airflow 2 logs through ``logging``, Airflow 3's structlog to the console."""
    out, err = capfd.readouterr()
    return "\n".join((caplog.text, out, err))


def test_each_progress_change_is_logged_once(
    api: EmulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    operator(poll_interval=0.05).execute(task_context(FakeTaskInstance()))

    text = logged(caplog, capfd)
    lines = [line[line.index("Sixtyfour run") :] for line in text.splitlines() if "% done" in line]
    lines = [line.split(" [airflow")[0] for line in lines]
    assert len(lines) >= 2
    assert all(a != b for a, b in itertools.pairwise(lines))
    assert "block" in lines[0]
    assert "blocks completed" in lines[0]
    assert "rows processed" in lines[0]
    assert lines[-1].startswith(f"Sixtyfour run {lines[-1].split()[2]} is completed: 100% done")


def test_read_csv_workflow_uploads_the_csv_and_passes_its_handle(api: EmulatorServer, tmp_path: Path) -> None:
    csv = tmp_path / "companies.csv"
    csv.write_text("company,domain\nExample,example.com\nACE,ace.test\nInitech,initech.test\n")

    summary = operator(workflow_id=CSV_FLOW, webhook_payload=None, input_csv=f"file://{csv}").execute(
        task_context(FakeTaskInstance())
    )

    assert summary["status"] == "completed"
    assert summary["output_rows"] == 3
    assert api.request_count(UPLOAD_CSV) == 1
    assert api.runs_started() == 1


def test_read_csv_from_s3_through_an_aws_connection(api: EmulatorServer, moto_s3: Any) -> None:
    s3 = moto_s3.client()
    s3.create_bucket(Bucket="leads")
    s3.put_object(Bucket="leads", Key="in/companies.csv", Body=b"company,domain\nExample,example.com\nACE,ace.test\n")

    summary = operator(
        workflow_id=CSV_FLOW,
        webhook_payload=None,
        input_csv="s3://leads/in/companies.csv",
        input_csv_conn_id=moto_s3.conn_id,
    ).execute(task_context(FakeTaskInstance()))

    assert summary["output_rows"] == 2
    assert api.request_count(UPLOAD_CSV) == 1


def test_webhook_payload_given_as_json_text_is_parsed(api: EmulatorServer) -> None:
    summary = operator(webhook_payload=json.dumps(ROWS)).execute(task_context(FakeTaskInstance()))
    assert summary["output_rows"] == len(ROWS)


def test_not_waiting_returns_as_soon_as_the_run_started(api: EmulatorServer) -> None:
    ti = FakeTaskInstance()
    summary = operator(workflow_id=SLOW, wait_for_completion=False).execute(task_context(ti))

    assert summary["status"] == "queued"
    assert summary["job_id"] == ti.xcoms["job_id"]
    assert api.request_count(LIVE_STATUS) == 0


# -- bad input: a clear message naming the parameter, and no paid call ----------------------------

BAD_INPUT = [
    pytest.param({"workflow_id": ""}, "workflow_id", id="no-workflow-id"),
    pytest.param({"workflow_id": None}, "workflow_id", id="workflow-id-none"),
    pytest.param({"workflow_id": "wf-does-not-exist"}, "workflow_id", id="unknown-workflow"),
    pytest.param({"webhook_payload": 42}, "webhook_payload", id="payload-not-dict"),
    pytest.param({"webhook_payload": [{"a": 1}, "row"]}, "webhook_payload", id="payload-row-not-dict"),
    pytest.param({"webhook_payload": {"when": object()}}, "webhook_payload", id="payload-not-serialisable"),
    pytest.param({"webhook_payload": {"x": float("nan")}}, "webhook_payload", id="payload-nan"),
    pytest.param({"webhook_payload": "not json"}, "webhook_payload", id="payload-text-not-json"),
    pytest.param({"webhook_payload": []}, "webhook_payload", id="payload-empty"),
    pytest.param({"webhook_payload": None}, "webhook_payload", id="webhook-workflow-without-payload"),
    pytest.param({"input_csv": "file:///tmp/x.csv"}, "input_csv", id="both-payload-and-csv"),
    pytest.param({"workflow_id": CSV_FLOW, "webhook_payload": None}, "input_csv", id="csv-workflow-without-csv"),
    pytest.param({"workflow_id": CSV_FLOW}, "webhook_payload", id="payload-for-csv-workflow"),
    pytest.param(
        {"webhook_payload": None, "input_csv": "file:///tmp/leads.csv"}, "input_csv", id="csv-for-webhook-workflow"
    ),
    pytest.param(
        {"workflow_id": CSV_FLOW, "webhook_payload": None, "input_csv": "file:///nonexistent/dir/leads.csv"},
        "input_csv",
        id="csv-missing",
    ),
    pytest.param(
        {
            "workflow_id": CSV_FLOW,
            "webhook_payload": None,
            "input_csv": "s3://leads/x.csv",
            "input_csv_conn_id": "no_such_conn",
        },
        "input_csv_conn_id",
        id="csv-conn-missing",
    ),
    pytest.param({"workflow_id": ".."}, "workflow_id '..' is not a Sixtyfour workflow id", id="workflow-id-dotdot"),
    pytest.param({"workflow_id": "wf/../runs"}, "never '/'", id="workflow-id-with-slash"),
    pytest.param({"specs_override": ["not", "a", "dict"]}, "specs_override", id="specs-not-dict"),
    pytest.param({"specs_override": {"limit": {1, 2}}}, "specs_override", id="specs-not-serialisable"),
]


@pytest.mark.parametrize(("kwargs", "parameter"), BAD_INPUT)
def test_bad_input_fails_before_any_paid_call(api: EmulatorServer, kwargs: dict[str, Any], parameter: str) -> None:
    ti = FakeTaskInstance()
    with pytest.raises(AirflowFailException) as err:
        operator(**kwargs).execute(task_context(ti))

    message = str(err.value)
    assert parameter in message
    assert api.runs_started() == 0
    assert run_requests(api) == 0
    assert api.request_count(UPLOAD_CSV) == 0
    assert "job_id" not in ti.xcoms


def test_empty_csv_fails_before_any_paid_call(api: EmulatorServer, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(AirflowFailException, match=r"input_csv .* is empty"):
        operator(workflow_id=CSV_FLOW, webhook_payload=None, input_csv=str(empty)).execute(
            task_context(FakeTaskInstance())
        )
    assert api.runs_started() == 0
    assert api.request_count(UPLOAD_CSV) == 0


def test_a_missing_connection_fails_with_how_to_fix_it(emulator: EmulatorServer) -> None:
    with pytest.raises(AirflowFailException, match="no connection 'nowhere'"):
        operator(sixtyfour_conn_id="nowhere").execute(task_context(FakeTaskInstance()))
    assert emulator.runs_started() == 0


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"poll_interval": 0}, "poll_interval"),
        ({"timeout": -5}, "timeout"),
        ({"timeout": "soon"}, "timeout"),
        # Far-future waits: refused at parse time, never a crash of the deferral after a paid start.
        ({"timeout": 1e12}, "timeout must be at most 31622400 seconds"),
        ({"timeout": timedelta.max}, "timeout must be at most 31622400 seconds"),
        ({"timeout": 10**400}, "timeout must be at most"),
        ({"poll_interval": 1e10}, "poll_interval must be at most"),
        ({"execution_timeout": timedelta(days=400)}, "execution_timeout must be at most 31622400 seconds"),
        ({"execution_timeout": timedelta.max}, "execution_timeout must be at most 31622400 seconds"),
        ({"download_to": "file:///tmp/out/", "download_overwrite": "yes"}, "download_overwrite"),
        ({"download_to": "file:///tmp/out/", "download_format": "xml"}, r"download_format must be one of \['csv'"),
        ({"download_to": "file:///tmp/out/", "download_format": "ndjson"}, "download_format='ndjson' needs save_json"),
    ],
)
def test_bad_static_settings_fail_when_the_dag_is_parsed(kwargs: dict[str, Any], parameter: str) -> None:
    with pytest.raises(ValueError, match=parameter):
        operator(**kwargs)


def test_a_far_execution_timeout_set_after_parsing_fails_before_any_paid_call(emulator: EmulatorServer) -> None:
    # A cluster policy may set execution_timeout after the DAG file built the task: the deferral would
    # then carry a deadline out of range and crash after the run had started (and been paid for).
    task = operator(deferrable=True)
    task.execution_timeout = timedelta(days=400)
    with pytest.raises(AirflowFailException, match="execution_timeout must be at most 31622400 seconds"):
        task.execute(task_context(FakeTaskInstance()))
    assert emulator.runs_started() == 0


def test_download_overwrite_given_as_text_is_read_as_a_bool() -> None:
    """A "False" string must not overwrite because non-empty text is truthy."""
    assert operator(download_to="file:///tmp/out/", download_overwrite="False").download_overwrite is False
    assert operator(download_to="file:///tmp/out/", download_overwrite="True").download_overwrite is True


# -- how runs end ---------------------------------------------------------------------------------


def test_failed_run_fails_the_task_with_the_api_reason(api: EmulatorServer) -> None:
    with pytest.raises(AirflowException, match="Email finder quota exhausted") as err:
        operator(workflow_id=FAILING).execute(task_context(FakeTaskInstance()))
    assert "failed" in str(err.value)


def test_cancelled_run_is_never_a_success(api: EmulatorServer) -> None:
    def cancel_elsewhere(key: str, value: Any) -> None:
        if key == "job_id":
            with SixtyfourHook() as hook:
                hook.cancel_run(value)

    with pytest.raises(AirflowException, match="was cancelled"):
        operator(workflow_id=SLOW).execute(task_context(FakeTaskInstance(on_push=cancel_elsewhere)))


def test_timeout_cancels_the_remote_run_and_says_so(api: EmulatorServer) -> None:
    ti = FakeTaskInstance()
    with pytest.raises(AirflowException, match="timed out") as err:
        operator(workflow_id=SLOW, timeout=timedelta(seconds=1.5)).execute(task_context(ti))

    job_id = ti.xcoms["job_id"]
    assert "cancel requested" in str(err.value)
    assert api.cancel_requests(job_id) == 1
    wait_for(lambda: api.get_run(job_id)["status"] in ("cancelled", "canceled"), HANG_GUARD)


def test_execution_timeout_bounds_the_wait_and_cancels_the_run_first(api: EmulatorServer) -> None:
    ti = FakeTaskInstance()
    op = operator(workflow_id=SLOW, execution_timeout=timedelta(seconds=2), poll_interval=0.2)
    with pytest.raises(AirflowException, match="timed out") as err:
        op.execute(task_context(ti))

    job_id = ti.xcoms["job_id"]
    assert "cancel requested" in str(err.value)
    assert api.cancel_requests(job_id) == 1


def kill_once_started(op: SixtyfourRunWorkflowOperator, ti: FakeTaskInstance, times: int) -> threading.Thread:
    """Call ``op.on_kill()`` ``times`` times from another thread once the run started (as a kill would)."""

    def target() -> None:
        wait_for(lambda: ti.xcoms.get("job_id"), HANG_GUARD)
        for _ in range(times):
            op.on_kill()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread


def test_on_kill_cancels_the_remote_run_and_a_second_kill_is_harmless(api: EmulatorServer) -> None:
    op = operator(workflow_id=SLOW, poll_interval=1.0)
    ti = FakeTaskInstance()
    killer = kill_once_started(op, ti, times=2)
    with pytest.raises(AirflowException, match="killed"):
        op.execute(task_context(ti))
    killer.join(HANG_GUARD)

    job_id = ti.xcoms["job_id"]
    assert api.cancel_requests(job_id) == 1
    wait_for(lambda: api.get_run(job_id)["status"] in ("cancelled", "canceled"), HANG_GUARD)
    op.on_kill()  # after the task ended: nothing more
    assert api.cancel_requests(job_id) == 1


def test_on_kill_leaves_the_run_alone_when_asked_to(api: EmulatorServer) -> None:
    op = operator(workflow_id=SLOW, poll_interval=1.0, cancel_on_kill=False)
    ti = FakeTaskInstance()
    killer = kill_once_started(op, ti, times=1)
    with pytest.raises(AirflowException, match="killed"):
        op.execute(task_context(ti))
    killer.join(HANG_GUARD)
    assert api.cancel_requests(ti.xcoms["job_id"]) == 0


def test_on_kill_before_any_run_does_nothing(api: EmulatorServer) -> None:
    operator().on_kill()
    assert api.stats()["requests"].get("/workflows/cancel") is None


# -- deferrable ---------------------------------------------------------------------------------


def defer(op: SixtyfourRunWorkflowOperator, ti: FakeTaskInstance) -> TaskDeferred:
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(task_context(ti))
    return deferred.value


def test_deferral_carries_an_absolute_deadline_and_no_secret(api: EmulatorServer) -> None:
    ti = FakeTaskInstance()
    before = time.time()
    deferred = defer(operator(deferrable=True, timeout=600, poll_interval=7), ti)
    after = time.time()

    trigger = deferred.trigger
    assert isinstance(trigger, SixtyfourWorkflowRunTrigger)
    assert deferred.method_name == "execute_complete"
    assert trigger.job_id == ti.xcoms["job_id"]
    assert before + 600 <= trigger.deadline <= after + 600
    assert trigger.poll_interval == 7
    assert trigger.cancel_on_kill is True
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_provider_sixtyfour.triggers.sixtyfour.SixtyfourWorkflowRunTrigger"
    assert TEST_API_KEY not in json.dumps(kwargs)
    assert api.request_count(LIVE_STATUS) == 0


@pytest.mark.parametrize(
    ("workflow_id", "timeout", "expected"),
    [(FAST, None, "completed"), (FAILING, None, "Email finder quota exhausted"), (SLOW, 1.0, "timed out")],
    ids=["success", "failed", "timeout"],
)
def test_deferrable_path_through_the_real_trigger(
    api: EmulatorServer, workflow_id: str, timeout: float | None, expected: str
) -> None:
    ti = FakeTaskInstance()
    op = operator(workflow_id=workflow_id, deferrable=True, timeout=timeout, poll_interval=0.2)
    deferred = defer(op, ti)
    event = asyncio.run(first_event(deferred.trigger, HANG_GUARD))
    json.dumps(event)  # trigger events are plain JSON

    resumed = operator(workflow_id=workflow_id, deferrable=True, timeout=timeout)  # a fresh instance resumes
    if expected == "completed":
        summary = resumed.execute_complete(task_context(ti), event)
        assert summary["status"] == "completed"
        assert summary["output_rows"] == len(ROWS)
        return
    with pytest.raises(AirflowException, match=expected):
        resumed.execute_complete(task_context(ti), event)
    if expected == "timed out":
        job_id = ti.xcoms["job_id"]
        assert api.cancel_requests(job_id) >= 1
        wait_for(lambda: api.get_run(job_id)["status"] in ("cancelled", "canceled"), HANG_GUARD)


def test_deferrable_cancelled_and_error_events_fail_the_task(api: EmulatorServer) -> None:
    ti = FakeTaskInstance()
    deferred = defer(operator(workflow_id=SLOW, deferrable=True), ti)
    job_id = deferred.trigger.job_id
    with SixtyfourHook() as hook:
        hook.cancel_run(job_id)
    deferred.trigger.poll_interval = 0.2
    event = asyncio.run(first_event(deferred.trigger, HANG_GUARD))
    assert event["status"] == "cancelled"
    with pytest.raises(AirflowException, match="was cancelled"):
        operator(deferrable=True).execute_complete(task_context(ti), event)

    error = {"status": "error", "job_id": job_id, "message": "GET ... failed with HTTP 401", "run": None}
    with pytest.raises(AirflowException, match="HTTP 401"):
        operator(deferrable=True).execute_complete(task_context(ti), error)
    with pytest.raises(AirflowException, match="without an event"):
        operator(deferrable=True).execute_complete(task_context(ti), None)


def test_deferrable_reattach_to_a_completed_run_does_not_defer(api: EmulatorServer) -> None:
    store = FakeTaskStateStore()
    first = operator().execute(task_context(FakeTaskInstance(), store))
    summary = operator(deferrable=True).execute(task_context(FakeTaskInstance(try_number=2), store))
    assert summary["job_id"] == first["job_id"]
    assert api.runs_started() == 1


# -- never two paid runs --------------------------------------------------------------------------


@pytest.mark.parametrize("with_store", [True, False], ids=["task-state-store", "key-replay"])
def test_retry_reattaches_to_the_completed_run_of_the_earlier_try(api: EmulatorServer, with_store: bool) -> None:
    store = FakeTaskStateStore() if with_store else None
    first = operator().execute(task_context(FakeTaskInstance(try_number=1), store))
    starts_before = run_requests(api)

    second = operator().execute(task_context(FakeTaskInstance(try_number=2), store))

    assert second["job_id"] == first["job_id"]
    assert api.runs_started() == 1
    # With the store the retry sends no start at all; without it, one replay of try 1's key.
    assert run_requests(api) - starts_before == (0 if with_store else 1)


@pytest.mark.parametrize("with_store", [True, False], ids=["task-state-store", "key-replay"])
def test_retry_reattaches_to_a_run_still_in_flight(api: EmulatorServer, with_store: bool) -> None:
    store = FakeTaskStateStore() if with_store else None
    ti1 = FakeTaskInstance(try_number=1)
    started = operator(wait_for_completion=False).execute(task_context(ti1, store))

    ti2 = FakeTaskInstance(try_number=2)
    summary = operator().execute(task_context(ti2, store))

    assert summary["job_id"] == started["job_id"] == ti2.xcoms["job_id"]
    assert summary["status"] == "completed"
    assert api.runs_started() == 1


@pytest.mark.parametrize("with_store", [True, False], ids=["task-state-store", "key-replay"])
def test_retry_after_a_failed_run_starts_one_new_run(api: EmulatorServer, with_store: bool) -> None:
    store = FakeTaskStateStore() if with_store else None
    with pytest.raises(AirflowException, match="failed"):
        operator(workflow_id=FAILING).execute(task_context(FakeTaskInstance(try_number=1), store))
    ti2 = FakeTaskInstance(try_number=2)
    with pytest.raises(AirflowException, match="failed"):
        operator(workflow_id=FAILING).execute(task_context(ti2, store))
    assert api.runs_started() == 2

    # Try 3 after two failed runs starts a third, and only one.
    with pytest.raises(AirflowException, match="failed"):
        operator(workflow_id=FAILING).execute(task_context(FakeTaskInstance(try_number=3), store))
    assert api.runs_started() == 3


def test_retry_after_a_cancelled_run_starts_anew_and_a_later_retry_reuses_that(api: EmulatorServer) -> None:
    ti1 = FakeTaskInstance(try_number=1)
    operator(workflow_id=FAST, wait_for_completion=False).execute(task_context(ti1))
    with SixtyfourHook() as hook:
        hook.cancel_run(ti1.xcoms["job_id"])
    wait_for(lambda: api.get_run(ti1.xcoms["job_id"])["status"] in ("cancelled", "canceled"), HANG_GUARD)

    second = operator().execute(task_context(FakeTaskInstance(try_number=2)))
    assert second["job_id"] != ti1.xcoms["job_id"]
    third = operator().execute(task_context(FakeTaskInstance(try_number=3)))
    assert third["job_id"] == second["job_id"]
    assert api.runs_started() == 2


def test_a_worker_lost_between_start_and_record_is_recovered_from_the_store(api: EmulatorServer) -> None:
    identity = TaskInstanceIdentity("test_dag", "enrich", "manual__2026-01-01T00:00:00+00:00", -1, 1)
    key = identity.idempotency_key()
    store = FakeTaskStateStore()
    # Try 1 recorded its key, sent the start, and died before recording the job id.
    RunLedger(store).write(StartRecord(1, key, None, FAST))
    with SixtyfourHook() as hook:
        job_id = hook.run_workflow(FAST, ROWS, idempotency_key=key).job_id

    summary = operator().execute(task_context(FakeTaskInstance(try_number=2), store))

    assert summary["job_id"] == job_id
    assert api.runs_started() == 1
    assert RunLedger(store).read() == StartRecord(1, key, job_id, FAST)


def test_a_worker_lost_before_its_start_reached_the_api_starts_exactly_one_run(api: EmulatorServer) -> None:
    store = FakeTaskStateStore()
    identity = TaskInstanceIdentity("test_dag", "enrich", "manual__2026-01-01T00:00:00+00:00", -1, 1)
    RunLedger(store).write(StartRecord(1, identity.idempotency_key(), None, FAST))

    operator().execute(task_context(FakeTaskInstance(try_number=2), store))
    assert api.runs_started() == 1


def csv_operator(csv: Path) -> SixtyfourRunWorkflowOperator:
    return operator(workflow_id=CSV_FLOW, webhook_payload=None, input_csv=csv.as_uri())


@pytest.fixture
def companies_csv(tmp_path: Path) -> Path:
    path = tmp_path / "companies.csv"
    path.write_text("company,domain\nExample,example.com\nACE,ace.test\n")
    return path


def test_a_csv_run_whose_start_answers_were_all_lost_is_reattached_by_the_next_try(
    api: EmulatorServer, companies_csv: Path
) -> None:
    # Every answer to try 1's start is lost: the run began, but try 1 never learns its id and fails.
    api.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1000))
    store = FakeTaskStateStore()
    with pytest.raises(SixtyfourTransportError, match="before an answer arrived"):
        csv_operator(companies_csv).execute(task_context(FakeTaskInstance(try_number=1), store))
    assert api.runs_started() == 1
    record = RunLedger(store).read()
    assert record is not None
    assert record.job_id is None
    assert record.input_handle is not None
    api.clear_faults()

    # Try 2 replays try 1's key with try 1's upload: the same request, so the API answers try 1's run.
    summary = csv_operator(companies_csv).execute(task_context(FakeTaskInstance(try_number=2), store))

    assert summary["status"] == "completed"
    assert api.runs_started() == 1
    assert api.request_count(UPLOAD_CSV) == 1
    assert RunLedger(store).read() == StartRecord(
        1, record.idempotency_key, summary["job_id"], CSV_FLOW, record.input_handle
    )


def test_a_csv_upload_recorded_before_the_start_is_sent_by_the_replay(api: EmulatorServer, companies_csv: Path) -> None:
    identity = TaskInstanceIdentity("test_dag", "enrich", "manual__2026-01-01T00:00:00+00:00", -1, 1)
    store = FakeTaskStateStore()
    with SixtyfourHook() as hook, companies_csv.open("rb") as handle:
        uploaded = hook.upload_csv(handle)
    # Try 1 uploaded and recorded the handle, then died before its start request left.
    RunLedger(store).write(StartRecord(1, identity.idempotency_key(), None, CSV_FLOW, uploaded))

    summary = csv_operator(companies_csv).execute(task_context(FakeTaskInstance(try_number=2), store))

    assert summary["status"] == "completed"
    assert api.runs_started() == 1
    assert api.request_count(UPLOAD_CSV) == 1  # try 2 did not upload again
    assert api.get_run(summary["job_id"])["specs_override"][RESOURCE_HANDLE_SPEC_KEY] == uploaded


def test_a_csv_record_without_an_upload_handle_starts_one_run(api: EmulatorServer, companies_csv: Path) -> None:
    identity = TaskInstanceIdentity("test_dag", "enrich", "manual__2026-01-01T00:00:00+00:00", -1, 1)
    store = FakeTaskStateStore()
    # A record without the upload (as the provider wrote them before it recorded uploads), whose try died
    # before its start request left: the replay uploads, and try 1's key starts the one run.
    RunLedger(store).write(StartRecord(1, identity.idempotency_key(), None, CSV_FLOW))

    summary = csv_operator(companies_csv).execute(task_context(FakeTaskInstance(try_number=2), store))

    assert summary["status"] == "completed"
    assert api.runs_started() == 1
    assert api.request_count(UPLOAD_CSV) == 1


def test_reattach_false_starts_a_new_run_every_try(api: EmulatorServer) -> None:
    first = operator(reattach=False).execute(task_context(FakeTaskInstance(try_number=1)))
    second = operator(reattach=False).execute(task_context(FakeTaskInstance(try_number=2)))
    assert first["job_id"] != second["job_id"]
    assert api.runs_started() == 2


def test_other_task_instances_never_share_a_run(api: EmulatorServer) -> None:
    a = operator().execute(task_context(FakeTaskInstance(map_index=0)))
    b = operator().execute(task_context(FakeTaskInstance(map_index=1)))
    c = operator().execute(task_context(FakeTaskInstance(run_id="scheduled__2026-01-02T00:00:00+00:00")))
    assert len({a["job_id"], b["job_id"], c["job_id"]}) == 3


def test_a_lost_start_response_starts_one_run_only(api: EmulatorServer) -> None:
    api.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1))
    summary = operator().execute(task_context(FakeTaskInstance()))

    assert summary["status"] == "completed"
    assert api.runs_started() == 1
    assert run_requests(api) == 2  # the lost one, and its replay answered "already started"


def test_a_fifth_of_status_polls_failing_still_completes(api: EmulatorServer) -> None:
    api.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=503, rate=0.2, seed=7))
    api.add_fault(FaultRule(route=LIVE_STATUS, kind="reset", rate=0.05, seed=8))
    summary = operator(poll_interval=0.05).execute(task_context(FakeTaskInstance()))

    assert summary["status"] == "completed"
    assert api.runs_started() == 1


def test_status_polls_failing_for_good_fail_the_task(emulator: EmulatorServer, monkeypatch: Any) -> None:
    from helpers.connections import sixtyfour_connection_uri_json

    emulator.add_workflow(WorkflowSpec(workflow_id=FAST, duration_seconds=1.0))
    monkeypatch.setenv(
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(emulator.base_url, max_retries=0)
    )
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=503))
    with pytest.raises(Exception, match="503"):
        operator(poll_interval=0.05).execute(task_context(FakeTaskInstance()))
    assert emulator.runs_started() == 1


# -- identity and secrets -------------------------------------------------------------------------


def test_idempotency_key_is_derived_from_the_task_instance_and_the_starting_try() -> None:
    base = TaskInstanceIdentity("dag", "task", "run", -1, 1)
    assert base.idempotency_key() == TaskInstanceIdentity("dag", "task", "run", -1, 1).idempotency_key()
    assert base.idempotency_key(1) == TaskInstanceIdentity("dag", "task", "run", -1, 2).idempotency_key(1)
    variants = [
        TaskInstanceIdentity("dag2", "task", "run", -1, 1),
        TaskInstanceIdentity("dag", "task2", "run", -1, 1),
        TaskInstanceIdentity("dag", "task", "run2", -1, 1),
        TaskInstanceIdentity("dag", "task", "run", 0, 1),
        TaskInstanceIdentity("dag", "task", "run", -1, 2),
    ]
    keys = {v.idempotency_key() for v in variants} | {base.idempotency_key()}
    assert len(keys) == 6


def test_the_api_key_never_reaches_logs_xcom_or_errors(
    api: EmulatorServer, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    ti = FakeTaskInstance()
    summary = operator().execute(task_context(ti))
    with pytest.raises(AirflowException) as failed:
        operator(workflow_id=FAILING).execute(task_context(FakeTaskInstance(task_id="other")))
    with pytest.raises(AirflowFailException) as bad:
        operator(workflow_id="wf-missing").execute(task_context(FakeTaskInstance(task_id="third")))

    output = logged(caplog, capfd)
    assert "Sixtyfour run" in output  # the capture works, so its silence about the key means something
    for text in (output, json.dumps(summary), json.dumps(ti.xcoms), str(failed.value), str(bad.value)):
        assert TEST_API_KEY not in text
    assert TEST_API_KEY not in repr(operator())


def test_template_fields() -> None:
    assert set(SixtyfourRunWorkflowOperator.template_fields) == {
        "workflow_id",
        "webhook_payload",
        "input_csv",
        "input_csv_conn_id",
        "specs_override",
        "download_to",
        "download_conn_id",
        "download_files",
        "download_format",
        "sixtyfour_conn_id",
    }
    assert SixtyfourRunWorkflowOperator.template_fields_renderers["webhook_payload"] == "json"
    assert [link.name for link in SixtyfourRunWorkflowOperator.operator_extra_links] == ["Sixtyfour run"]


def test_download_to_a_target_that_exists_fails_without_retries(api: EmulatorServer, tmp_path: Path) -> None:
    """Landing after a paid run goes through the same final-error rule as the download operator."""
    (tmp_path / "block_01_webhook.csv").write_text("keep me")
    with pytest.raises(AirflowFailException, match="already exists; pass overwrite=True") as raised:
        operator(download_to=str(tmp_path)).execute(task_context(FakeTaskInstance()))
    assert isinstance(raised.value.__cause__, SixtyfourTargetExistsError)
    assert (tmp_path / "block_01_webhook.csv").read_text() == "keep me"
    assert api.runs_started() == 1


def test_download_to_lands_ndjson_of_a_save_json_run(api: EmulatorServer, tmp_path: Path) -> None:
    summary = operator(
        save_json=True, download_to=str(tmp_path), download_format="ndjson", download_files="final"
    ).execute(task_context(FakeTaskInstance()))
    [landed] = summary["landed_files"]
    assert (landed["filename"], landed["format"]) == ("block_03_find_email.ndjson", "ndjson")
    lines = (tmp_path / "block_03_find_email.ndjson").read_text().splitlines()
    assert [json.loads(line)["company"] for line in lines] == [row["company"] for row in ROWS]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        # A template rendered these; only execute can tell, and it must before the run is paid for.
        ({"download_to": "s3://"}, "destination 's3://' names no bucket: use s3://BUCKET/prefix/"),
        ({"download_to": "file://"}, "destination 'file://' names no folder"),
        ({"download_to": "/tmp/out", "download_format": "ndjson"}, "download_format='ndjson' needs save_json=True"),
        ({"download_to": "/tmp/out", "download_files": []}, "files is an empty list"),
    ],
)
def test_bad_download_to_settings_fail_before_the_run_is_paid_for(
    api: EmulatorServer, kwargs: dict[str, Any], message: str
) -> None:
    op = operator(download_to="/tmp/out/")
    for name, value in kwargs.items():
        setattr(op, name, value)  # what the templates rendered to
    with pytest.raises(AirflowFailException, match=message):
        op.execute(task_context(FakeTaskInstance()))
    assert run_requests(api) == 0
