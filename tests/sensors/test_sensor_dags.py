"""The run sensor through real Airflow: ``airflow dags test`` on DAG files, against the emulator.

Poke, reschedule and deferrable modes each wait for a run that is still going when they start; a
failed run with ``soft_fail`` is skipped (poke and deferrable), without it the task fails with the
API's message. The key never reaches the output or the task logs.
"""

from __future__ import annotations

import re
import sqlite3

import pytest
from helpers.airflow_cli import AirflowCli
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

pytestmark = pytest.mark.slow

ROWS = [{"email": "ada@example.com"}]

DAG_HEADER = """
from datetime import datetime

try:
    from airflow.sdk import DAG, task
except ImportError:
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_sixtyfour.sensors.sixtyfour import SixtyfourWorkflowRunSensor
"""

MODES_DAG = (
    DAG_HEADER
    + """
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

with DAG("sixtyfour_sensor_modes", start_date=datetime(2026, 1, 1), schedule=None, params={"failed_run": "FAILED"}):

    @task
    def start(**context):
        # Started here, right before the sensors, so that each run is still going when its sensor starts.
        with SixtyfourHook() as hook:
            for mode in ("poke", "reschedule", "deferred"):
                job_id = hook.run_workflow(f"wf-{mode}", [{"email": "ada@example.com"}]).job_id
                context["ti"].xcom_push(key=mode, value=job_id)

    common = {"poke_interval": 1, "timeout": 300}
    poke = SixtyfourWorkflowRunSensor(
        task_id="poke", job_id="{{ ti.xcom_pull(task_ids='start', key='poke') }}", mode="poke", **common
    )
    reschedule = SixtyfourWorkflowRunSensor(
        task_id="reschedule",
        job_id="{{ ti.xcom_pull(task_ids='start', key='reschedule') }}",
        mode="reschedule",
        **common,
    )
    deferred = SixtyfourWorkflowRunSensor(
        task_id="deferred", job_id="{{ ti.xcom_pull(task_ids='start', key='deferred') }}", deferrable=True, **common
    )
    skipped_poke = SixtyfourWorkflowRunSensor(
        task_id="skipped_poke", job_id="{{ params.failed_run }}", soft_fail=True, **common
    )
    skipped_deferred = SixtyfourWorkflowRunSensor(
        task_id="skipped_deferred", job_id="{{ params.failed_run }}", soft_fail=True, deferrable=True, **common
    )

    @task
    def check(**context):
        for task_id in ("poke", "reschedule", "deferred"):
            run = context["ti"].xcom_pull(task_ids=task_id)
            assert run["status"] == "completed", (task_id, run)
            print(f"CHECKED {task_id} {run['run_id']} {run['status']}")

    start() >> poke >> reschedule >> deferred >> check()
"""
)

FAILING_DAG = (
    DAG_HEADER
    + """
with DAG("sixtyfour_sensor_failing", start_date=datetime(2026, 1, 1), schedule=None):
    SixtyfourWorkflowRunSensor(task_id="poke_failed", job_id="FAILED", poke_interval=1, timeout=300)
    SixtyfourWorkflowRunSensor(
        task_id="deferred_failed", job_id="FAILED", poke_interval=1, timeout=300, deferrable=True
    )
"""
)


def start_run(workflow_id: str) -> str:
    with SixtyfourHook() as hook:
        return hook.run_workflow(workflow_id, ROWS).job_id


def task_states(cli: AirflowCli, dag_id: str) -> dict[str, str | None]:
    with sqlite3.connect(cli.home / "airflow.db") as db:
        rows = db.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ?", (dag_id,)).fetchall()
    return dict(rows)


def assert_no_secret(cli: AirflowCli, output: str) -> None:
    assert TEST_API_KEY not in output
    assert TEST_API_KEY not in cli.all_logs()


def test_poke_reschedule_and_deferrable_modes_and_soft_fail(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    # Each sensor in the chain starts a few seconds after the one before: the runs last long enough
    # that every mode really waits before it succeeds.
    for mode, seconds in (("poke", 8.0), ("reschedule", 14.0), ("deferred", 20.0)):
        emulator.add_workflow(WorkflowSpec(workflow_id=f"wf-{mode}", duration_seconds=seconds))
    failed = start_run("wf-demo-failing")
    airflow_cli.add_dag("sensor_modes.py", MODES_DAG.replace('"FAILED"', repr(failed)))
    proc = airflow_cli.dags_test(
        "sixtyfour_sensor_modes",
        extra_env={"AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url)},
    )
    output = proc.stdout
    assert task_states(airflow_cli, "sixtyfour_sensor_modes") == {
        "start": "success",
        "poke": "success",
        "reschedule": "success",
        "deferred": "success",
        "skipped_poke": "skipped",
        "skipped_deferred": "skipped",
        "check": "success",
    }, output[-8000:]
    everything = output + airflow_cli.all_logs()
    for mode in ("poke", "reschedule", "deferred"):
        job_id = re.search(rf"CHECKED {mode} (\S+) completed", everything)
        assert job_id, f"{mode} returned no completed run summary"
        assert f"Sixtyfour run {job_id.group(1)} is running" in everything, f"{mode} never saw its run in progress"
    assert_no_secret(airflow_cli, output)


def test_failed_run_fails_the_sensor_with_the_api_message(
    airflow_cli: AirflowCli, emulator: EmulatorServer, sixtyfour_conn: str
) -> None:
    failed = start_run("wf-demo-failing")
    airflow_cli.add_dag("sensor_failing.py", FAILING_DAG.replace('"FAILED"', repr(failed)))
    proc = airflow_cli.dags_test(
        "sixtyfour_sensor_failing",
        extra_env={"AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url)},
    )
    states = task_states(airflow_cli, "sixtyfour_sensor_failing")
    assert states == {"poke_failed": "failed", "deferred_failed": "failed"}, proc.stdout[-8000:]
    assert "Email finder quota exhausted for this organization" in proc.stdout + airflow_cli.all_logs()
    assert_no_secret(airflow_cli, proc.stdout)
