"""The restart drill, on one real Airflow 3.3 cluster (API server, scheduler, DAG processor, triggerer).

One DAG run holds a task per drill, all waiting on long Sixtyfour runs at the same time (runs last
40 s or more: a trigger firing within seconds of its deferral loses a race in Airflow 3.3, see
``tests/e2e/airflow_cluster.py``). Then, while they wait:

a. the process running ``worker_killed`` (a non-deferrable wait) is SIGKILLed: the task's retry must
   reattach to the run try 1 started, and the emulator must count one run for it;
b. the triggerer is restarted while ``triggerer_restarted`` is deferred: the new triggerer rebuilds the
   trigger from the serialized kwargs Airflow stored, whose absolute deadline is the one the operator
   computed (logged identically by both triggerer jobs); the run completes once, the task succeeds on
   its first try, and the restart cancels nothing;
c. ``killed_running`` (in a worker) and ``killed_deferred`` (in the triggerer) are marked failed through
   the REST API: both remote runs must be cancelled (``on_kill``, and ``BaseTrigger.on_kill`` on 3.3);
d. ``timeout_deferred`` outlives its ``timeout`` while deferred: the trigger yields a timeout event at the
   serialized deadline and the resumed task cancels the remote run before failing.

Airflow 3.3 does not apply a task's ``execution_timeout`` while it is deferred (the task runner's "TODO:
handle timeout in case of deferral"; the trigger timeout comes only from ``defer(timeout=...)``), so a
deferred run operator is bounded by its own ``timeout`` only; that is why (d) uses it.
"""

from __future__ import annotations

import functools
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from dags.support import read_xcoms
from e2e.airflow_cluster import AirflowCluster
from helpers.airflow_cli import airflow_major
from helpers.connections import sixtyfour_connection_uri_json

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(280)]

DAG_ID = "sixtyfour_restart_drill"
DAG_FILE = Path(__file__).parent / "dags" / f"{DAG_ID}.py"
WORKFLOW_SECONDS = {
    "wf-drill-worker": 40.0,
    "wf-drill-triggerer": 45.0,
    "wf-drill-kill-running": 600.0,
    "wf-drill-kill-deferred": 600.0,
    "wf-drill-timeout": 600.0,
}
WORKFLOW_OF = {
    "worker_killed": "wf-drill-worker",
    "triggerer_restarted": "wf-drill-triggerer",
    "killed_running": "wf-drill-kill-running",
    "killed_deferred": "wf-drill-kill-deferred",
    "timeout_deferred": "wf-drill-timeout",
}
IN_WORKER = ("worker_killed", "killed_running")
DEFERRED = ("triggerer_restarted", "killed_deferred", "timeout_deferred")
CANCELLED = ("cancelled", "canceled")
HANG_GUARD = 150.0


def wait_until(what: str, check: Callable[[], Any], cluster: AirflowCluster, timeout: float = HANG_GUARD) -> Any:
    """Poll ``check`` until it returns something truthy (a hang guard, not a timing assertion)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        cluster.check_alive()
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def test_restart_drill(emulator: EmulatorServer, sixtyfour_conn: str, tmp_path: Path) -> None:
    if airflow_major() < 3:
        pytest.skip("the restart drill runs a real Airflow 3 cluster")
    for workflow_id, seconds in WORKFLOW_SECONDS.items():
        emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, first_block="webhook", duration_seconds=seconds))
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(DAG_FILE, dags)
    env = {
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url),
        "AIRFLOW__CORE__PARALLELISM": "8",
    }
    with AirflowCluster(home=tmp_path / "airflow-home", dags_folder=dags, env=env) as cluster:
        try:
            _drill(cluster, emulator)
        except BaseException:
            print(f"\n===== Airflow service logs =====\n{cluster.diagnostics()}")
            raise


def _drill(cluster: AirflowCluster, emulator: EmulatorServer) -> None:
    began = time.monotonic()
    cluster.wait_for_dag(DAG_ID)
    cluster.unpause(DAG_ID)
    run_id = cluster.trigger_dag(DAG_ID)
    db = cluster.database()

    def trigger_logs(task_id: str) -> dict[int, str]:
        files = cluster.trigger_log_files(DAG_ID, run_id, task_id)
        return {job: path.read_text(errors="replace") for job, path in files.items()}

    def everyone_waits() -> dict[str, str] | None:
        states = {ti["task_id"]: ti["state"] for ti in cluster.task_instances(DAG_ID, run_id)}
        jobs = read_xcoms(db, "job_id")
        if not all(states.get(t) == "running" and t in jobs for t in IN_WORKER):
            return None
        if not all(states.get(t) == "deferred" for t in DEFERRED):
            return None
        if not all(any("Waiting for Sixtyfour run" in text for text in trigger_logs(t).values()) for t in DEFERRED):
            return None
        if not all(_status(emulator, jobs[t]) == "running" for t in WORKFLOW_OF):
            return None
        return dict(jobs)

    jobs = wait_until("every drill task waiting on its running Sixtyfour run", everyone_waits, cluster)
    waiting_at = time.monotonic()

    # a. The worker process dies mid-wait (SIGKILL: no on_kill, no cleanup).
    killed_pid = cluster.kill_task_process(DAG_ID, run_id, "worker_killed")
    # c. A user marks a running and a deferred task failed.
    cluster.set_task_state(DAG_ID, run_id, "killed_running", "failed")
    cluster.set_task_state(DAG_ID, run_id, "killed_deferred", "failed")
    for task_id in ("killed_running", "killed_deferred"):
        cancelled = functools.partial(_cancelled, emulator, jobs[task_id])
        wait_until(f"{task_id}'s run cancelled", cancelled, cluster, 60)

    # b. The triggerer restarts while three triggers wait.
    stored_before = _stored_trigger_kwargs(cluster)
    old_jobs = set(cluster.triggerer_job_ids())
    cluster.restart_service("triggerer")
    restarted_at = time.monotonic()
    new_job = wait_until(
        "the new triggerer running triggerer_restarted's trigger",
        lambda: next(
            (
                job
                for job, text in trigger_logs("triggerer_restarted").items()
                if job not in old_jobs and "Waiting for Sixtyfour run" in text
            ),
            None,
        ),
        cluster,
        90,
    )
    stored_after = _stored_trigger_kwargs(cluster)

    state = cluster.wait_for_dag_run(DAG_ID, run_id, timeout=HANG_GUARD)
    finished_at = time.monotonic()
    assert state == "failed"  # killed_running, killed_deferred and the two timeouts fail; that is the point
    tis = {ti["task_id"]: ti for ti in cluster.task_instances(DAG_ID, run_id)}
    with SixtyfourHook() as hook:
        runs = {wf: hook.list_runs(workflow_id=wf) for wf in WORKFLOW_SECONDS}
    assert emulator.runs_started() == len(WORKFLOW_OF), {wf: [r.job_id for r in rs] for wf, rs in runs.items()}
    for task_id, workflow_id in WORKFLOW_OF.items():
        assert [r.job_id for r in runs[workflow_id]] == [jobs[task_id]], task_id

    # a. The retry reattached: one run, completed, and try 2 said so.
    worker = tis["worker_killed"]
    assert worker["state"] == "success"
    assert worker["try_number"] == 2
    assert runs["wf-drill-worker"][0].status.value == "completed"
    try_logs = "\n".join(p.read_text() for p in cluster.task_log_files(DAG_ID, run_id, "worker_killed"))
    assert f"reattaching to Sixtyfour run {jobs['worker_killed']} started by try 1" in try_logs
    assert emulator.cancel_requests(jobs["worker_killed"]) == 0

    # b. The deadline survived the restart: stored once, rebuilt and logged alike by both triggerer jobs.
    job_id = jobs["triggerer_restarted"]
    deadline = stored_before[job_id]["deadline"]
    assert isinstance(deadline, float)
    assert stored_after[job_id] == stored_before[job_id]
    assert stored_after[jobs["timeout_deferred"]] == stored_before[jobs["timeout_deferred"]]
    logs = trigger_logs("triggerer_restarted")
    assert len(logs) == 2, sorted(logs)  # one per triggerer job
    assert new_job in logs
    logged_deadline = f"deadline {datetime.fromtimestamp(deadline, tz=timezone.utc)}"
    assert all(logged_deadline in text for text in logs.values()), logged_deadline
    assert sum(text.count("Trigger fired event") for text in logs.values()) == 1
    assert tis["triggerer_restarted"]["state"] == "success"
    assert tis["triggerer_restarted"]["try_number"] == 1
    assert runs["wf-drill-triggerer"][0].status.value == "completed"
    assert emulator.cancel_requests(job_id) == 0  # a restart is not a kill

    # c. Marked failed: both remote runs cancelled, by the worker's on_kill and the trigger's on_kill.
    for task_id in ("killed_running", "killed_deferred"):
        assert tis[task_id]["state"] == "failed"
        assert emulator.cancel_requests(jobs[task_id]) >= 1
        assert _status(emulator, jobs[task_id]) in CANCELLED
    running_logs = "\n".join(p.read_text() for p in cluster.task_log_files(DAG_ID, run_id, "killed_running"))
    assert f"Task killed; cancelling Sixtyfour run {jobs['killed_running']}" in running_logs
    deferred_logs = "\n".join(trigger_logs("killed_deferred").values())
    assert f"Task killed; asked Sixtyfour to cancel run {jobs['killed_deferred']}" in deferred_logs

    # d. Timed out while deferred (the restarted triggerer fired at the stored deadline): run cancelled.
    assert tis["timeout_deferred"]["state"] == "failed"
    assert emulator.cancel_requests(jobs["timeout_deferred"]) >= 1
    assert _status(emulator, jobs["timeout_deferred"]) in CANCELLED
    timeout_deadline = datetime.fromtimestamp(stored_before[jobs["timeout_deferred"]]["deadline"], tz=timezone.utc)
    timeout_logs = "\n".join(p.read_text() for p in cluster.task_log_files(DAG_ID, run_id, "timeout_deferred"))
    assert f"Sixtyfour run {jobs['timeout_deferred']} timed out: not finished within timeout=40 s" in timeout_logs
    assert f"at its deadline {timeout_deadline.isoformat(timespec='seconds')}" in timeout_logs

    print(
        f"\nrestart drill figures: tasks waiting {waiting_at - began:.1f} s after trigger, killed pid {killed_pid}, "
        f"triggerer back {restarted_at - waiting_at:.1f} s after the kills, DAG run done "
        f"{finished_at - began:.1f} s after trigger; triggerer jobs {sorted(old_jobs)} -> {new_job}"
    )


def _status(emulator: EmulatorServer, job_id: str) -> str | None:
    run = emulator.get_run(job_id)
    return None if run is None else str(run["status"])


def _cancelled(emulator: EmulatorServer, job_id: str) -> bool:
    return _status(emulator, job_id) in CANCELLED


def _stored_trigger_kwargs(cluster: AirflowCluster) -> dict[str, dict[str, Any]]:
    """The stored kwargs of every waiting run trigger, by the job id it waits for."""
    found = {}
    for classpath, kwargs in cluster.trigger_kwargs().values():
        if classpath.endswith("SixtyfourWorkflowRunTrigger"):
            found[str(kwargs["job_id"])] = kwargs
    return found
