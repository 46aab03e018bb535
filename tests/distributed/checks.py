"""What every distributed drill asserts, in one place.

``assert_drill_outcome``: every task instance ended as expected, each has exactly the paid runs it
should (its own, told apart by the ``job_id`` XCom each try pushes), no run of the drill's workflow is
left queued or running, every landed file is byte for byte the file the emulator served, and the secret
audit finds no key or signed URL in any log or database row of the cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helpers.connections import sixtyfour_connection_uri_json
from helpers.files import sha256_of
from secret_audit import _USER_TABLES, AUDIT

from airflow_provider_sixtyfour.emulator import EmulatorServer
from airflow_provider_sixtyfour.protocol.models import RunRecord
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

from .cluster import DistributedCluster

ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


def workflow_runs(emulator: EmulatorServer, workflow_id: str) -> dict[str, RunRecord]:
    """Every run of ``workflow_id`` the emulator holds, by job id (read through the public API)."""
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    previous = os.environ.get("AIRFLOW_CONN_SIXTYFOUR_DRILLS")
    os.environ["AIRFLOW_CONN_SIXTYFOUR_DRILLS"] = sixtyfour_connection_uri_json(emulator.base_url)
    try:
        records = SixtyfourHook("sixtyfour_drills").list_runs(workflow_id=workflow_id, limit=500)
    finally:
        if previous is None:
            os.environ.pop("AIRFLOW_CONN_SIXTYFOUR_DRILLS", None)
        else:
            os.environ["AIRFLOW_CONN_SIXTYFOUR_DRILLS"] = previous
    return {record.job_id: record for record in records}


def trigger_and_wait(
    cluster: DistributedCluster, dag_id: str, land_to: Path | None = None, timeout: float = 400
) -> tuple[str, float]:
    """Trigger ``dag_id`` (landing under ``land_to``) and wait for it; returns ``(run id, seconds)``."""
    started = time.monotonic()
    run_id = start_run(cluster, dag_id, land_to)
    wait_for_success(cluster, dag_id, run_id, timeout=timeout)
    return run_id, time.monotonic() - started


def wait_for_success(cluster: DistributedCluster, dag_id: str, run_id: str, timeout: float) -> None:
    """Wait for the DAG run; unless it succeeds, fail with every task's state and the failed ones' logs."""
    state = cluster.wait_for_dag_run(dag_id, run_id, timeout=timeout, poll=1.0)
    if state != "success":
        raise AssertionError(
            f"{dag_id}/{run_id} ended {state}: {_states(cluster, dag_id, run_id)}\n{_failures(cluster, dag_id, run_id)}"
        )


def retried_task_logs(cluster: DistributedCluster, dag_id: str, run_id: str, chars: int = 2500) -> str:
    """The tail of the earlier tries' logs of every task instance that needed more than one try."""
    parts = []
    for ti in cluster.task_instances(dag_id, run_id):
        if int(ti.get("try_number") or 0) > 1:
            files = cluster.task_log_files(dag_id, run_id, ti["task_id"])
            index = f"map_index={ti['map_index']}"
            first = [p for p in files if ti["map_index"] < 0 or index in p.parts]
            parts += [f"----- {p} -----\n{p.read_text(errors='replace')[-chars:]}" for p in first[:-1]]
    return "\n".join(parts)


def _failures(cluster: DistributedCluster, dag_id: str, run_id: str, chars: int = 2500) -> str:
    parts = []
    for ti in cluster.task_instances(dag_id, run_id):
        if ti["state"] in ("success", "skipped"):
            continue
        index = f"map_index={ti['map_index']}"
        logs = [
            p for p in cluster.task_log_files(dag_id, run_id, ti["task_id"]) if ti["map_index"] < 0 or index in p.parts
        ]
        triggers = [
            p
            for p in cluster.trigger_log_files(dag_id, run_id, ti["task_id"]).values()
            if ti["map_index"] < 0 or index in p.parts
        ]
        for path in [*logs[-1:], *triggers[-1:]]:
            tail = path.read_text(errors="replace")[-chars:]
            parts.append(f"----- {ti['task_id']}[{ti['map_index']}] {ti['state']}: {path} -----\n{tail}")
        if len(parts) >= 6:
            break
    return "\n".join(parts) or cluster.diagnostics()


def start_run(cluster: DistributedCluster, dag_id: str, land_to: Path | None = None, **conf: str) -> str:
    """Unpause and trigger ``dag_id`` with ``conf`` (and ``land_to`` as a URI); returns the run id."""
    cluster.unpause(dag_id)
    if land_to is not None:
        conf["land_to"] = land_to.as_uri()
    return cluster.trigger_dag(dag_id, conf=conf)


def _states(cluster: DistributedCluster, dag_id: str, run_id: str) -> dict[str, Any]:
    return {f"{ti['task_id']}[{ti['map_index']}]": ti["state"] for ti in cluster.task_instances(dag_id, run_id)}


def assert_drill_outcome(
    cluster: DistributedCluster,
    emulator: EmulatorServer,
    dag_id: str,
    run_id: str,
    task_id: str,
    workflow_id: str,
    *,
    runs_per_task: int = 1,
    land_to: Path | None = None,
    states: Mapping[int, str] | None = None,
) -> dict[int, str]:
    """Assert what every drill asserts (see the module docstring); returns each map index's final job id.

    :param runs_per_task: the paid runs each task instance should have (2 where a cleared task's next
        try had to start a new run); every run but the last must be cancelled, the last completed.
    :param states: the final state of each map index; default ``success`` for all.
    """
    tis = cluster.mapped_task_instances(dag_id, run_id, task_id)
    expected = dict(states) if states is not None else dict.fromkeys(tis, "success")
    assert {index: ti["state"] for index, ti in tis.items()} == expected
    runs = workflow_runs(emulator, workflow_id)
    assert len(runs) == runs_per_task * len(tis), f"{len(runs)} paid runs for {len(tis)} task instances"
    assert [job for job, run in runs.items() if run.status in ACTIVE] == [], "orphaned runs left running"
    final_jobs: dict[int, str] = {}
    for index in tis:
        job_id = cluster.xcom(dag_id, run_id, task_id, "job_id", map_index=index)
        assert job_id in runs, f"{task_id}[{index}] reported job {job_id!r}, not a run of {workflow_id}"
        assert runs[job_id].status == RunStatus.COMPLETED, (index, runs[job_id].status)
        final_jobs[index] = str(job_id)
    assert len(set(final_jobs.values())) == len(final_jobs), "two task instances share one run"
    earlier = set(runs) - set(final_jobs.values())
    assert all(runs[job].status == RunStatus.CANCELLED for job in earlier), {j: runs[j].status for j in earlier}
    if land_to is not None:
        for index, job_id in final_jobs.items():
            assert_landed(emulator, job_id, land_to / str(index))
    audit_cluster(cluster)
    return final_jobs


def assert_landed(emulator: EmulatorServer, job_id: str, folder: Path) -> None:
    """Every file in ``folder`` is byte for byte the run's result file of that name, and none is partial."""
    landed = sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []
    assert landed, f"nothing landed in {folder}"
    for path in landed:
        assert emulator.file_sha256(job_id, path.name) == sha256_of(path), path
    assert not [path for path in folder.rglob("*") if "partial" in path.name]


def audit_cluster(cluster: DistributedCluster) -> None:
    """Run the secret audit (tests/secret_audit.py) over every log and database row of the cluster.

    A finding fails the calling test with the audit's report (where, which secret, a redacted excerpt).
    """
    AUDIT.scan_files("subprocess", cluster.log_files())
    if "database" not in AUDIT.exempt:
        for where, text in cluster.database_texts(_USER_TABLES):
            AUDIT.scan("database", f"postgres:{where}", text)
