"""The run and cancel operators through the real ``airflow dags test``, against the emulator over HTTP.

Each test copies DAG files from ``tests/dags`` into a throwaway Airflow home, runs them in a separate
Airflow process, and judges by what the emulator saw (runs started, cancel requests), by the task
states and XComs in Airflow's database, and by the output. The API key must appear nowhere.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from typing import Any

import pytest
from dags.support import Canceller, dag_source, dags_test_watching, read_xcoms, task_states, wait_for
from helpers.airflow_cli import AirflowCli
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY
from helpers.lineage import lineage_events, openlineage_env
from lineage.events import task_events, validate_event
from packaging.version import Version

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS, LIVE_STATUS, RUN_WORKFLOW, UPLOAD_CSV

pytestmark = pytest.mark.slow

AIRFLOW_V_3_3_PLUS = Version(version("apache-airflow")).release >= (3, 3)

CANCELLED = ("cancelled", "canceled")


def conn_env(emulator: EmulatorServer, **extra: Any) -> dict[str, str]:
    return {"AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url, **extra)}


def assert_no_secret(cli: AirflowCli, *outputs: str) -> None:
    for text in (*outputs, cli.all_logs()):
        assert TEST_API_KEY not in text


def check_line(output: str) -> dict[str, Any]:
    (line,) = [line for line in output.splitlines() if "SIXTYFOUR_CHECK " in line]
    return json.loads(line.split("SIXTYFOUR_CHECK ", 1)[1])


@pytest.mark.parametrize("faults", [False, True], ids=["clean", "20pct-status-faults"])
def test_sync_and_deferred_runs_complete_and_cancel_works(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str, faults: bool
) -> None:
    if faults:
        for route, seed in ((LIVE_STATUS, 1), (LIST_RUNS, 2)):
            emulator.add_fault(FaultRule(route=route, kind="status", status=503, rate=0.2, seed=seed))
    airflow_cli.add_dag("sixtyfour_run_basic.py", dag_source("sixtyfour_run_basic.py"))
    db = airflow_cli.home / "airflow.db"
    status_when_pushed: dict[str, str] = {}

    def watch() -> None:
        for task_id, job_id in read_xcoms(db, "job_id").items():
            if task_id not in status_when_pushed and isinstance(job_id, str):
                run = emulator.get_run(job_id)
                status_when_pushed[task_id] = run["status"] if run else "unknown"

    proc = dags_test_watching(airflow_cli, "sixtyfour_run_basic", conn_env(emulator), watch)
    assert proc.returncode == 0, proc.stdout[-6000:]

    # The job id reached XCom while the run was still in flight, before any waiting ended.
    assert status_when_pushed["enrich_sync"] in ("queued", "running")
    assert status_when_pushed["enrich_deferred"] in ("queued", "running")
    seen = check_line(proc.stdout)
    for task_id, workflow_id, rows in (
        ("enrich_sync", "wf-demo-webhook", 3),
        ("enrich_deferred", "wf-demo-webhook", 3),
        ("enrich_csv", "wf-demo-read-csv", 4),
    ):
        got = seen[task_id]
        summary = got["summary"]
        assert summary["status"] == "completed"
        assert summary["job_id"] == got["job_id"]
        assert summary["workflow_id"] == got["workflow_id"] == workflow_id
        assert summary["output_rows"] == rows
        assert got["run_url"].endswith(got["job_id"])
        assert got["link"] == got["ui_link"] == got["run_url"]
    assert "Deferring" in proc.stdout
    assert seen["cancel"] == "cancelled"
    assert seen["cancel_finished"] == "completed"
    assert "nothing to cancel" in proc.stdout
    assert emulator.runs_started() == 4
    assert emulator.request_count(UPLOAD_CSV) == 1
    assert emulator.cancel_requests(seen["enrich_sync"]["job_id"]) == 0
    assert_no_secret(airflow_cli, proc.stdout)


def test_failed_cancelled_timed_out_and_bad_input_all_fail(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-cancel-me", duration_seconds=600))
    airflow_cli.add_dag("sixtyfour_run_failures.py", dag_source("sixtyfour_run_failures.py"))

    with Canceller("wf-cancel-me") as canceller:
        env = {**conn_env(emulator), **openlineage_env(airflow_cli.home)}
        proc = airflow_cli.dags_test("sixtyfour_run_failures", extra_env=env)
    out = proc.stdout

    db = airflow_cli.home / "airflow.db"
    states = task_states(db, "sixtyfour_run_failures")
    assert set(states.values()) == {"failed"}, states
    job_ids = read_xcoms(db, "job_id")
    assert "bad_input" not in job_ids
    assert emulator.runs_started() == 4
    assert "Email finder quota exhausted for this organization" in out
    assert job_ids["cancelled"] in canceller.cancelled
    assert "was cancelled before it completed; a cancelled run does not count as success" in out
    for task_id in ("timed_out_sync", "timed_out_deferred"):
        job_id = job_ids[task_id]
        assert emulator.cancel_requests(job_id) == 1
        wait_for(lambda job_id=job_id: emulator.get_run(job_id)["status"] in CANCELLED, 30)
    assert out.count("timed out: not finished within timeout=2 s") >= 2
    assert "starts with a webhook block: pass its rows as webhook_payload" in out
    assert_no_secret(airflow_cli, out)

    # Lineage: a failed run's FAIL event carries Sixtyfour's reason and the run; a task that never
    # started one says nothing of a run. This DAG has no doc, so the job's doc is the workflow's.
    events = lineage_events(airflow_cli.home)
    for event in events:
        validate_event(event)
    (failed,) = task_events(events, "failed", "FAIL")
    facets = failed["run"]["facets"]
    assert "Email finder quota exhausted for this organization" in facets["sixtyfourError"]["message"]
    assert (facets["sixtyfour"]["job_id"], facets["sixtyfour"]["status"]) == (job_ids["failed"], "failed")
    assert failed["job"]["facets"]["documentation"]["description"].startswith("Sixtyfour workflow ")
    (cancelled,) = task_events(events, "cancelled", "FAIL")
    assert cancelled["run"]["facets"]["sixtyfour"]["status"] in CANCELLED
    (bad_input,) = task_events(events, "bad_input", "FAIL")
    assert "sixtyfour" not in bad_input["run"]["facets"]


def test_an_execution_timeout_cancels_its_run_first(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    airflow_cli.add_dag("sixtyfour_run_killed.py", dag_source("sixtyfour_run_killed.py"))
    proc = airflow_cli.dags_test("sixtyfour_run_killed", extra_env=conn_env(emulator))

    job_ids = read_xcoms(airflow_cli.home / "airflow.db", "job_id")
    job_id = job_ids["killed"]
    assert emulator.runs_started() == 1
    assert emulator.cancel_requests(job_id) == 1
    wait_for(lambda: emulator.get_run(job_id)["status"] in CANCELLED, 30)
    assert proc.returncode != 0
    assert f"Sixtyfour run {job_id} timed out" in proc.stdout
    assert "cancel requested" in proc.stdout
    assert_no_secret(airflow_cli, proc.stdout)


def test_a_retry_after_a_lost_start_reattaches_instead_of_paying_twice(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    # No request retries: the start's lost answer fails try 1, after the emulator started the run.
    emulator.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1))
    airflow_cli.add_dag("sixtyfour_run_retry.py", dag_source("sixtyfour_run_retry.py"))
    proc = airflow_cli.dags_test("sixtyfour_run_retry", extra_env=conn_env(emulator, max_retries=0))

    assert proc.returncode == 0, proc.stdout[-6000:]
    assert task_states(airflow_cli.home / "airflow.db", "sixtyfour_run_retry") == {"enrich": "success"}
    assert emulator.runs_started() == 1
    assert emulator.request_count(RUN_WORKFLOW) == 2  # try 1's lost start, try 2's replay of its key
    assert "no new run is started" in proc.stdout
    if AIRFLOW_V_3_3_PLUS:  # the task state store recorded try 1's key before its start was sent
        assert "Try 2: try 1 recorded a start without its job id" in proc.stdout
    else:  # no store, XCom cleared between tries: the retry replays try 1's key
        assert "Try 2: no task state store on this Airflow version" in proc.stdout
    assert_no_secret(airflow_cli, proc.stdout)


def test_a_lost_start_answer_is_replayed_by_the_hook_into_the_same_run(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    emulator.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1))
    airflow_cli.add_dag("sixtyfour_run_retry.py", dag_source("sixtyfour_run_retry.py"))
    proc = airflow_cli.dags_test("sixtyfour_run_retry", extra_env=conn_env(emulator))

    assert proc.returncode == 0, proc.stdout[-6000:]
    assert emulator.runs_started() == 1
    assert emulator.request_count(RUN_WORKFLOW) == 2
    assert "already started" in proc.stdout
    assert "Try 2:" not in proc.stdout
    assert_no_secret(airflow_cli, proc.stdout)
