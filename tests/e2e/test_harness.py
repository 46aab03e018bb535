"""The end-to-end harness itself, proven on DAGs of its own before the provider's example DAG uses it.

One real Airflow 3.3 (API server, scheduler, DAG processor, triggerer; LocalExecutor on SQLite) runs a
DAG whose sensor defers, and a DAG that never defers. The test checks the run succeeds, the deferral
went through the triggerer process (and the check tells the non-deferring task apart), the logs are
collected, and that no process the cluster started survives it. A second test fails inside the cluster
while a task that ignores SIGTERM is running, and checks that nothing survives that either.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.airflow_cli import airflow_major

from .airflow_cluster import AirflowCluster, ClusterError, StartCluster

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DEFER_DAG_ID = "e2e_harness_defer"
PLAIN_DAG_ID = "e2e_harness_plain"
STUBBORN_DAG_ID = "e2e_harness_stubborn"
RESUMED_LINE = "e2e-harness: downstream ran after the deferral"

DAGS_SOURCE = f'''
"""DAGs for the harness test: one deferring sensor, one plain task."""
from __future__ import annotations

import datetime

from airflow.providers.standard.sensors.date_time import DateTimeSensorAsync
from airflow.sdk import DAG, task

START = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

with DAG("{DEFER_DAG_ID}", schedule=None, start_date=START, catchup=False):
    # Always defers (even when the moment has passed), so the deferral cannot be skipped under load.
    # Five seconds keeps clear of Airflow 3.3's race between a fast trigger and the deferring workload's exit.
    wait = DateTimeSensorAsync(
        task_id="wait", target_time="{{{{ macros.datetime.utcnow() + macros.timedelta(seconds=5) }}}}"
    )

    @task
    def after() -> None:
        print("{RESUMED_LINE}")

    wait >> after()

with DAG("{PLAIN_DAG_ID}", schedule=None, start_date=START, catchup=False):

    @task
    def plain() -> str:
        return "no deferral here"

    plain()
'''

STUBBORN_SOURCE = f'''
"""A task that ignores SIGTERM and never ends: only SIGKILL stops it."""
from __future__ import annotations

import datetime
import signal
import time

from airflow.sdk import DAG, task

with DAG("{STUBBORN_DAG_ID}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False):

    @task
    def stubborn() -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("e2e-harness: stubborn task running")
        while True:
            time.sleep(1)

    stubborn()
'''


def _dags_folder(tmp_path: Path, source: str) -> Path:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "harness_dags.py").write_text(source)
    return dags


def test_deferrable_run_goes_through_the_triggerer_and_nothing_survives(
    airflow_cluster: StartCluster, tmp_path: Path
) -> None:
    began = time.monotonic()
    cluster = airflow_cluster(_dags_folder(tmp_path, DAGS_SOURCE))
    started = time.monotonic()

    for dag_id in (DEFER_DAG_ID, PLAIN_DAG_ID):
        cluster.wait_for_dag(dag_id)
        cluster.unpause(dag_id)
    defer_run = cluster.trigger_dag(DEFER_DAG_ID, conf={"why": "harness"})
    plain_run = cluster.trigger_dag(PLAIN_DAG_ID)
    assert cluster.wait_for_dag_run(DEFER_DAG_ID, defer_run, timeout=150) == "success"
    assert cluster.wait_for_dag_run(PLAIN_DAG_ID, plain_run, timeout=60) == "success"
    finished = time.monotonic()

    assert cluster.dag_run(DEFER_DAG_ID, defer_run)["conf"] == {"why": "harness"}
    states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(DEFER_DAG_ID, defer_run)}
    assert states == {"wait": "success", "after": "success"}

    # The sensor deferred, its trigger ran in this cluster's triggerer process, a worker resumed it.
    evidence = cluster.assert_deferred_in_triggerer(DEFER_DAG_ID, defer_run, "wait")
    assert evidence.deferred_state_updates, "the API server logged no 'deferred' state update"
    assert set(evidence.trigger_logs) <= set(evidence.triggerer_job_ids)
    # ...and the same checks reject a task that never deferred.
    with pytest.raises(ClusterError, match="did not defer") as rejected:
        cluster.assert_deferred_in_triggerer(PLAIN_DAG_ID, plain_run, "plain")
    assert "never set to 'deferred'" in str(rejected.value)
    assert "no trigger log" in str(rejected.value)

    # Every service wrote its own log; task, trigger and DAG processor logs are collected.
    process_logs = cluster.process_logs()
    assert set(process_logs) == {"api-server", "scheduler", "dag-processor", "triggerer"}
    assert all(text.strip() for text in process_logs.values())
    task_logs = cluster.task_logs()
    assert any(".trigger." in path.name for path in task_logs)
    assert any(RESUMED_LINE in text for text in task_logs.values())
    assert RESUMED_LINE in cluster.all_log_text()
    # A LocalExecutor worker may echo task output to the scheduler's stdout as well.
    after_logs = {str(p) for p in cluster.task_log_files(DEFER_DAG_ID, defer_run, "after")}
    hits = set(cluster.logs_containing(RESUMED_LINE))
    assert after_logs <= hits <= after_logs | {"scheduler"}
    assert cluster.logs_containing("e2e-harness: a line nobody wrote") == []

    # Stop: every service process and every descendant (LocalExecutor workers, task runners, the
    # triggerer's runner) is gone.
    running = cluster.leftover_processes()
    assert {p.pid for p in running} >= cluster.started_pids()
    assert len(running) > len(cluster.started_pids()), "expected child processes of the services too"
    cluster.stop()
    assert cluster.leftover_processes() == []
    assert _alive([p.pid for p in running]) == []

    print(
        f"\nharness figures: migrate {cluster.timings['migrate']:.1f}s, start to healthy "
        f"{started - began:.1f}s, parse + trigger + run both DAGs {finished - started:.1f}s, "
        f"stop {cluster.timings['stop']:.1f}s, processes stopped {len(running)}, "
        f"needed SIGKILL: {cluster.force_killed}"
    )


def test_failure_inside_the_cluster_still_stops_everything(tmp_path: Path) -> None:
    if airflow_major() < 3:
        pytest.skip("the end-to-end cluster needs Airflow 3")
    cluster = AirflowCluster(
        home=tmp_path / "airflow-home", dags_folder=_dags_folder(tmp_path, STUBBORN_SOURCE), stop_grace=5
    )
    seen: list[int] = []
    with pytest.raises(RuntimeError, match="the test failed here"):
        _fail_while_the_task_runs(cluster, seen)

    # The task runner ignored SIGTERM and sits in its own process group: the SIGKILL sweep got it.
    assert len(seen) > len(cluster.started_pids())
    assert cluster.leftover_processes() == []
    assert _alive(seen) == []
    assert cluster.force_killed, "the SIGTERM-proof task runner should have needed SIGKILL"
    print(
        f"\nstop with a SIGTERM-proof task: {cluster.timings['stop']:.1f}s, {len(seen)} processes, "
        f"needed SIGKILL: {cluster.force_killed}"
    )


def _fail_while_the_task_runs(cluster: AirflowCluster, seen: list[int]) -> None:
    with cluster:
        cluster.wait_for_dag(STUBBORN_DAG_ID)
        cluster.unpause(STUBBORN_DAG_ID)
        run_id = cluster.trigger_dag(STUBBORN_DAG_ID)
        _wait_until_running(cluster, run_id)
        seen.extend(p.pid for p in cluster.leftover_processes())
        raise RuntimeError("the test failed here")


def _wait_until_running(cluster: AirflowCluster, run_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cluster.check_alive()
        states = [ti["state"] for ti in cluster.task_instances(STUBBORN_DAG_ID, run_id)]
        logs = "\n".join(cluster.task_logs().values())
        if states == ["running"] and "stubborn task running" in logs:
            return
        time.sleep(0.5)
    raise AssertionError(f"the stubborn task never ran\n{cluster.diagnostics()}")


def _alive(pids: list[int]) -> list[int]:
    import psutil

    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            pass
    return alive
