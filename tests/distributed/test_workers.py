"""Drills d and f on the distributed cluster: waits in the Celery workers.

d. A worker is SIGKILLed (every process of it at once, as when its node is lost) while a task waits
   in it: the scheduler fails the task after the heartbeat timeout, the retry runs on the other worker
   and reattaches to the run the first try started;
f. 20 mapped tasks, spread over both workers, poll one key that the emulator limits to 500 requests a
   minute: the 429 answers are waited out, and no task fails or even retries.

Each drill leaves both workers running.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec

from .checks import assert_drill_outcome, start_run, trigger_and_wait, wait_for_success
from .cluster import TASK_HEARTBEAT_TIMEOUT, WORKERS, DistributedCluster

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(900)]


@pytest.fixture(autouse=True)
def both_workers(cluster: DistributedCluster) -> Iterator[None]:
    """Every drill starts and ends with both Celery workers running."""
    cluster.ensure_running(WORKERS)
    yield
    cluster.ensure_running(WORKERS)


def test_d_sigkilled_worker_retry_reattaches_on_the_other_worker(
    cluster: DistributedCluster, cluster_emulator: EmulatorServer, tmp_path: Path
) -> None:
    dag_id, task_id, workflow_id = "sixtyfour_dist_worker_lost", "wait_in_worker", "wf-dist-worker-lost"
    # Long enough to outlive the heartbeat timeout and the retry's start on a busy machine.
    cluster_emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=TASK_HEARTBEAT_TIMEOUT + 60))
    land_to = tmp_path / "landed"
    run_id = start_run(cluster, dag_id, land_to)

    def waiting_in_worker() -> str | None:
        ti = cluster.task_instance(dag_id, run_id, task_id)
        job_id = cluster.xcom(dag_id, run_id, task_id, "job_id")
        running = job_id and (cluster_emulator.get_run(job_id) or {}).get("status") == "running"
        return str(ti["hostname"]) if ti["state"] == "running" and running else None

    lost = cluster.wait_until("the task waiting in a worker", waiting_in_worker, 300)
    assert lost in WORKERS, lost
    first_job = cluster.xcom(dag_id, run_id, task_id, "job_id")
    cluster.kill_service(lost, signal.SIGKILL)
    killed_at = time.monotonic()
    wait_for_success(cluster, dag_id, run_id, timeout=400)
    print(f"\ndrill d: {lost} killed; the retry finished {time.monotonic() - killed_at:.0f} s later")
    tries = cluster.tries(dag_id, run_id, task_id)
    assert [(t["try_number"], t["hostname"]) for t in tries] == [
        (1, lost),
        (2, next(name for name in WORKERS if name != lost)),
    ], tries
    jobs = assert_drill_outcome(cluster, cluster_emulator, dag_id, run_id, task_id, workflow_id, land_to=land_to)
    assert jobs == {-1: first_job}, "the retry did not reattach to the first try's run"
    assert cluster_emulator.cancel_requests(first_job) == 0


def test_f_fanout_in_workers_shares_one_rate_limited_key(
    cluster: DistributedCluster, cluster_emulator: EmulatorServer, tmp_path: Path
) -> None:
    dag_id, task_id, workflow_id, count = "sixtyfour_dist_rate_limited", "enrich", "wf-dist-rate-limited", 20
    cluster_emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=30.0))
    land_to = tmp_path / "landed"
    limited_before = sum(cluster_emulator.stats()["rate_limited"].values())
    cluster_emulator.set_rate_limit(500)
    try:
        run_id, took = trigger_and_wait(cluster, dag_id, land_to, timeout=600)
    finally:
        cluster_emulator.set_rate_limit(None)
    limited = sum(cluster_emulator.stats()["rate_limited"].values()) - limited_before
    tis = cluster.mapped_task_instances(dag_id, run_id, task_id)
    hosts = {name: sum(1 for ti in tis.values() if ti["hostname"] == name) for name in WORKERS}
    print(f"\ndrill f: {count} tasks in {took:.0f} s, {limited} requests answered 429, tasks per worker: {hosts}")
    assert limited > 0, "the rate limit was never reached: the drill proved nothing"
    assert all(hosts.values()), f"a worker ran none of the tasks: {hosts}"
    assert {index: ti["try_number"] for index, ti in tis.items()} == dict.fromkeys(range(count), 1)
    assert_drill_outcome(cluster, cluster_emulator, dag_id, run_id, task_id, workflow_id, land_to=land_to)
