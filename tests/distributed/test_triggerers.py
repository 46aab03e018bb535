"""Drills a, b, c and e on the distributed cluster: deferred waits across two triggerers.

a. 40 mapped deferred runs spread over both triggerers, polled by about one list call per triggerer
   per cycle, whatever the number of runs;
b. SIGTERM one triggerer mid-wait: its triggers move to the other, no run is cancelled, the deadlines
   are the ones the operator computed;
c. SIGKILL the only triggerer mid-wait and start it again: the triggers resume after the heartbeat
   timeout, with the same assertions;
e. a user clears a deferred task: its run is cancelled (the trigger's ``on_kill``) and the next try
   starts a new run.

Each drill leaves both triggerers running, whatever it did to them.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS, LIVE_STATUS

from .checks import assert_drill_outcome, retried_task_logs, start_run, wait_for_success
from .cluster import TRIGGERER_HEALTH_CHECK_THRESHOLD, TRIGGERERS, DistributedCluster

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(900)]

WAITING = "Waiting for Sixtyfour run"
STARTED = re.compile(r'"timestamp":"([^"]+)","level":"info","event":"trigger [^"]* starting"')
DEADLINE = re.compile(r"deadline (\d{4}-\d\d-\d\d [0-9:.+]+)\)")
HANDOVER_DAG = "sixtyfour_dist_handover"


@pytest.fixture(autouse=True)
def both_triggerers(cluster: DistributedCluster) -> Iterator[None]:
    """Every drill starts and ends with both triggerers running."""
    _ensure_both(cluster)
    yield
    _ensure_both(cluster)


def _ensure_both(cluster: DistributedCluster) -> None:
    cluster.ensure_running(TRIGGERERS)
    cluster.wait_until("both triggerers alive", lambda: set(cluster.live_triggerers().values()) >= set(TRIGGERERS))


def _waiting_jobs(cluster: DistributedCluster, dag_id: str, run_id: str, task_id: str) -> dict[int, list[int]]:
    """For each map index, the triggerer jobs whose trigger logged that it waits on its run."""
    logs = cluster.mapped_trigger_logs(dag_id, run_id, task_id)
    return {index: [job for job, text in jobs.items() if WAITING in text] for index, jobs in logs.items()}


def _ended_on(cluster: DistributedCluster, dag_id: str, run_id: str, task_id: str) -> dict[int, str]:
    """For each map index, the triggerer that ran its trigger last (the last job to start it).

    (The "Trigger fired event" line does not always reach the trigger's own log file: near the end it
    may go to the triggerer's process log instead, so the start of each job's run is what counts.)
    """
    logs = cluster.mapped_trigger_logs(dag_id, run_id, task_id)
    ended: dict[int, str] = {}
    for index, jobs in logs.items():
        started = {job: STARTED.search(text) for job, text in jobs.items()}
        last = max((match.group(1), job) for job, match in started.items() if match)[1]
        ended[index] = cluster.triggerer_of(last)
    return ended


def _deadlines(cluster: DistributedCluster, dag_id: str, run_id: str, task_id: str) -> dict[int, set[str]]:
    """For each map index, the deadlines its triggers logged (one per triggerer job that ran it)."""
    logs = cluster.mapped_trigger_logs(dag_id, run_id, task_id)
    return {index: {m for text in jobs.values() for m in DEADLINE.findall(text)} for index, jobs in logs.items()}


def _all_waiting(
    cluster: DistributedCluster, dag_id: str, run_id: str, task_id: str, count: int
) -> dict[int, list[int]]:
    waiting = _waiting_jobs(cluster, dag_id, run_id, task_id)
    return waiting if len([jobs for jobs in waiting.values() if jobs]) == count else {}


def test_a_fanout_spreads_over_both_triggerers(
    cluster: DistributedCluster, cluster_emulator: EmulatorServer, tmp_path: Path
) -> None:
    dag_id, task_id, workflow_id, count, interval = "sixtyfour_dist_fanout", "enrich", "wf-dist-fanout", 40, 2.0
    cluster_emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=45.0))
    land_to = tmp_path / "landed"
    began = time.monotonic()
    run_id = start_run(cluster, dag_id, land_to)

    def deferred() -> int:
        tis = cluster.mapped_task_instances(dag_id, run_id, task_id)
        return sum(1 for ti in tis.values() if ti["state"] == "deferred")

    # The list calls of a window in which many runs wait at once: about one per triggerer per cycle.
    cluster.wait_until("a dozen tasks deferred", lambda: deferred() >= 12, 300)
    lists_before, status_before, at = (
        cluster_emulator.request_count(LIST_RUNS),
        cluster_emulator.request_count(LIVE_STATUS),
        time.monotonic(),
    )
    watched_before = deferred()
    time.sleep(10 * interval)
    lists = cluster_emulator.request_count(LIST_RUNS) - lists_before
    statuses = cluster_emulator.request_count(LIVE_STATUS) - status_before
    window = time.monotonic() - at
    watched = min(watched_before, deferred())
    # A poller waits a whole interval after each cycle, so it cannot run more cycles than this.
    max_cycles = window / interval + 1
    print(
        f"\ndrill a: {lists} list calls and {statuses} live_status calls in {window:.1f} s "
        f"({max_cycles:.1f} poll cycles at most) while {watched}+ runs waited"
    )
    assert 1 <= lists <= len(TRIGGERERS) * max_cycles, (lists, max_cycles)
    assert lists < watched * (max_cycles - 1), "the triggers polled their runs one by one"

    wait_for_success(cluster, dag_id, run_id, timeout=600)
    elapsed = time.monotonic() - began
    # A try lost to the loaded machine is retried (and reattaches: assert_drill_outcome counts the
    # paid runs); what the lost try logged is printed, so a retry is seen, not hidden.
    print(retried_task_logs(cluster, dag_id, run_id) or "drill a: no task needed a second try")
    ended = _ended_on(cluster, dag_id, run_id, task_id)
    assert sorted(ended) == list(range(count))
    per_triggerer = {name: sum(1 for who in ended.values() if who == name) for name in TRIGGERERS}
    print(f"drill a: {count} deferred runs in {elapsed:.0f} s; triggers per triggerer: {per_triggerer}")
    assert all(per_triggerer.values()), f"a triggerer ran none of the triggers: {per_triggerer}"
    assert_drill_outcome(cluster, cluster_emulator, dag_id, run_id, task_id, workflow_id, land_to=land_to)


def test_b_sigterm_moves_triggers_to_the_other_triggerer(
    cluster: DistributedCluster, cluster_emulator: EmulatorServer
) -> None:
    workflow_id, task_id, count = "wf-dist-handover-sigterm", "wait", 6
    cluster_emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=60.0))
    run_id = start_run(cluster, HANDOVER_DAG, workflow_id=workflow_id)
    waiting = cluster.wait_until(
        "every trigger waiting", lambda: _all_waiting(cluster, HANDOVER_DAG, run_id, task_id, count), 300
    )
    first = {index: cluster.triggerer_of(jobs[0]) for index, jobs in waiting.items()}
    # Stop the triggerer holding the most triggers; the other must take them all.
    stopped = max(TRIGGERERS, key=lambda name: sum(1 for who in first.values() if who == name))
    other = next(name for name in TRIGGERERS if name != stopped)
    moved = sorted(index for index, who in first.items() if who == stopped)
    assert moved, first
    cluster.kill_service(stopped, signal.SIGTERM)
    stopped_at = time.monotonic()

    def taken_over() -> bool:
        jobs = _waiting_jobs(cluster, HANDOVER_DAG, run_id, task_id)
        return all(any(cluster.triggerer_of(job) == other for job in jobs[index]) for index in moved)

    cluster.wait_until(f"{other} running every trigger of {stopped}", taken_over, 120)
    print(f"\ndrill b: {len(moved)} triggers moved from {stopped} to {other} in {time.monotonic() - stopped_at:.1f} s")
    wait_for_success(cluster, HANDOVER_DAG, run_id, timeout=300)
    assert _ended_on(cluster, HANDOVER_DAG, run_id, task_id) == dict.fromkeys(range(count), other)
    _assert_not_disturbed(cluster, cluster_emulator, run_id, task_id, workflow_id, moved)


def test_c_sigkilled_triggerer_resumes_its_triggers_after_the_heartbeat_timeout(
    cluster: DistributedCluster, cluster_emulator: EmulatorServer
) -> None:
    workflow_id, task_id, count = "wf-dist-handover-sigkill", "wait", 6
    cluster_emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=60.0))
    # One triggerer remains (as after drill b); the drill kills that one.
    cluster.kill_service(TRIGGERERS[0], signal.SIGTERM)
    remaining = TRIGGERERS[1]
    run_id = start_run(cluster, HANDOVER_DAG, workflow_id=workflow_id)
    waiting = cluster.wait_until(
        "every trigger waiting", lambda: _all_waiting(cluster, HANDOVER_DAG, run_id, task_id, count), 300
    )
    (old_job,) = {job for jobs in waiting.values() for job in jobs}
    assert cluster.triggerer_of(old_job) == remaining
    cluster.kill_service(remaining, signal.SIGKILL)
    killed_at = time.monotonic()
    cluster.start_service(remaining)

    def resumed() -> bool:
        jobs = _waiting_jobs(cluster, HANDOVER_DAG, run_id, task_id)
        return all(any(job != old_job for job in jobs[index]) for index in range(count))

    cluster.wait_until("the restarted triggerer running every trigger", resumed, 180)
    took = time.monotonic() - killed_at
    threshold = TRIGGERER_HEALTH_CHECK_THRESHOLD
    print(f"\ndrill c: triggers resumed {took:.1f} s after the SIGKILL (heartbeat threshold {threshold} s)")
    assert took >= TRIGGERER_HEALTH_CHECK_THRESHOLD - 1, "resumed before the dead job's heartbeat went stale"
    wait_for_success(cluster, HANDOVER_DAG, run_id, timeout=300)
    assert _ended_on(cluster, HANDOVER_DAG, run_id, task_id) == dict.fromkeys(range(count), remaining)
    _assert_not_disturbed(cluster, cluster_emulator, run_id, task_id, workflow_id, list(range(count)))


def _assert_not_disturbed(
    cluster: DistributedCluster,
    emulator: EmulatorServer,
    run_id: str,
    task_id: str,
    workflow_id: str,
    moved: list[int],
) -> None:
    """Moving a trigger cancelled nothing, retried nothing, and left its deadline as the operator set it."""
    jobs = assert_drill_outcome(cluster, emulator, HANDOVER_DAG, run_id, task_id, workflow_id)
    assert {job: emulator.cancel_requests(job) for job in jobs.values()} == dict.fromkeys(jobs.values(), 0)
    tis = cluster.mapped_task_instances(HANDOVER_DAG, run_id, task_id)
    assert {index: ti["try_number"] for index, ti in tis.items()} == dict.fromkeys(tis, 1)
    deadlines = _deadlines(cluster, HANDOVER_DAG, run_id, task_id)
    assert all(len(deadlines[index]) == 1 for index in tis), deadlines
    runs_by_job = _waiting_jobs(cluster, HANDOVER_DAG, run_id, task_id)
    assert all(len(runs_by_job[index]) == 2 for index in moved), runs_by_job


def test_e_clearing_a_deferred_task_cancels_its_run_and_starts_a_new_one(
    cluster: DistributedCluster, cluster_emulator: EmulatorServer
) -> None:
    dag_id, task_id, workflow_id = "sixtyfour_dist_cleared", "cleared", "wf-dist-cleared"
    cluster_emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=25.0))
    run_id = start_run(cluster, dag_id)
    cluster.wait_until("the trigger waiting", lambda: _all_waiting(cluster, dag_id, run_id, task_id, 1), 300)
    first_job = cluster.xcom(dag_id, run_id, task_id, "job_id")
    cluster.clear_task(dag_id, run_id, task_id)
    cluster.wait_until(
        "the first run cancelled",
        lambda: (cluster_emulator.get_run(first_job) or {}).get("status") in ("cancelled", "canceled"),
        90,
    )
    # The cleared DAG run is running again; wait for the next try to finish.
    wait_for_success(cluster, dag_id, run_id, timeout=300)
    jobs = assert_drill_outcome(cluster, cluster_emulator, dag_id, run_id, task_id, workflow_id, runs_per_task=2)
    assert jobs[-1] != first_job
    assert cluster.task_instance(dag_id, run_id, task_id)["try_number"] == 2
