"""The AssetWatcher path on a real Airflow 3.3: runs started outside Airflow each run the watching DAG once.

The example DAG ``sixtyfour_on_run_completed`` is scheduled on ``sixtyfour://workflows/wf-demo-webhook``,
whose watcher (``SixtyfourWorkflowRunEventTrigger``) runs in the cluster's triggerer. Runs are started
straight over HTTP, as the Sixtyfour app would; one of them ends while the triggerer is restarting, so
the watcher must resume from its watermark in the asset state store. Each run must give exactly one DAG
run, triggered by one asset event naming it, and that DAG run must land its files and load its rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers.connections import sixtyfour_connection_uri_json
from helpers.files import sha256_of
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "sixtyfour_on_run_completed"
WORKFLOW_ID = "wf-demo-webhook"
SIGNED_QUERY = re.compile(r"[?&](signature|expires)=", re.IGNORECASE)
FILES = ["block_01_webhook.csv", "block_02_enrich_lead.csv", "block_03_find_email.csv"]

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def _start_run(base_url: str, rows: int) -> str:
    request = urllib.request.Request(
        f"{base_url}/workflows/run?workflow_id={WORKFLOW_ID}",
        data=json.dumps({"webhook_payload": [{"name": f"Lead {i}"} for i in range(rows)]}).encode(),
        method="POST",
        headers={"x-api-key": TEST_API_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["job_id"])


def _wait(condition: Any, what: str, timeout: float = 300) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _get(cluster: Any, path: str) -> dict[str, Any] | None:
    """``GET /api/v2<path>``, or None when the API server is too busy to answer within the client's timeout
    (on a loaded machine its SQLite database can stall a request for longer: ask again)."""
    try:
        answer = cluster.api("GET", path)
    except OSError:
        return None
    return answer.body if answer.status == 200 and isinstance(answer.body, dict) else None


def _dag_runs(cluster: Any) -> list[dict[str, Any]]:
    body = _get(cluster, f"/dags/{DAG_ID}/dagRuns?limit=100")
    return list(body.get("dag_runs", [])) if body else []


def _finished(cluster: Any, run_id: str) -> str | None:
    cluster.check_alive()
    body = _get(cluster, f"/dags/{DAG_ID}/dagRuns/{run_id}")
    state = body.get("state") if body else None
    return str(state) if state in ("success", "failed") else None


def _job_ids_of(cluster: Any, run_id: str) -> list[str]:
    """The job ids named by the asset events that triggered one DAG run."""
    body = _wait(lambda: _get(cluster, f"/dags/{DAG_ID}/dagRuns/{run_id}/upstreamAssetEvents"), "its asset events")
    return [str((event.get("extra") or {}).get("payload", {}).get("job_id")) for event in body.get("asset_events", [])]


def test_a_watcher_scheduled_dag_runs_once_per_run_started_outside_airflow(
    airflow_cluster: Any, emulator: Any, tmp_path: Path
) -> None:
    from airflow_provider_sixtyfour.emulator import WorkflowSpec

    emulator.add_workflow(
        WorkflowSpec(workflow_id=WORKFLOW_ID, blocks=("webhook", "enrich_lead", "find_email"), duration_seconds=2)
    )
    dags = tmp_path / "dags"
    dags.mkdir()
    source = (ROOT / "example_dags" / f"{DAG_ID}.py").read_text()
    assert "POLL_INTERVAL = 30.0\n" in source
    (dags / f"{DAG_ID}.py").write_text(source.replace("POLL_INTERVAL = 30.0\n", "POLL_INTERVAL = 1.0\n"))
    results, warehouse = tmp_path / "results", tmp_path / "warehouse.db"
    env = {
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url),
        "AIRFLOW_CONN_SIXTYFOUR_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
        "AIRFLOW_VAR_SIXTYFOUR_RESULTS_BASE": results.as_uri(),
    }
    cluster = airflow_cluster(dags, env=env, scheduled_runs=True)
    cluster.wait_for_dag(DAG_ID)
    cluster.unpause(DAG_ID)
    # The watcher is watching once it has listed runs twice (nothing else here lists runs).
    _wait(lambda: emulator.request_count(LIST_RUNS) >= 2, "the watcher's first run lists")

    def dag_runs_at_least(count: int) -> list[dict[str, Any]]:
        runs = _dag_runs(cluster)
        return runs if len(runs) >= count else []

    job_ids: list[str] = []
    for rows in (3, 5):
        job_ids.append(_start_run(emulator.base_url, rows))
        runs = _wait(lambda: dag_runs_at_least(len(job_ids)), "a DAG run")
        newest = max(runs, key=lambda r: r["run_after"])
        state = _wait(lambda run_id=newest["dag_run_id"]: _finished(cluster, run_id), "the DAG run to finish")
        assert state == "success", cluster.diagnostics()

    # A run that ends while no triggerer runs: the restarted watcher resumes from the asset state store.
    job_ids.append(_start_run(emulator.base_url, 4))
    cluster.restart_service("triggerer")
    runs = _wait(lambda: dag_runs_at_least(3), "the DAG run after the restart")
    for run in runs:
        state = _wait(lambda run_id=run["dag_run_id"]: _finished(cluster, run_id), "the DAG runs to finish")
        assert state == "success", cluster.diagnostics()
    # A few more lists: a repeat would show up as another DAG run.
    lists = emulator.request_count(LIST_RUNS)
    _wait(lambda: emulator.request_count(LIST_RUNS) >= lists + 5, "five more run lists")
    time.sleep(5)  # the scheduler's turn to create a (wrong) extra run, if any event repeated

    runs = _dag_runs(cluster)
    assert len(runs) == 3, runs
    assert all(run["run_type"] == "asset_triggered" for run in runs)
    triggered_by = sorted(job for run in runs for job in _job_ids_of(cluster, run["dag_run_id"]))
    assert triggered_by == sorted(job_ids)
    assert emulator.runs_started() == 3

    for job_id in job_ids:
        folder = results / "runs" / job_id
        assert sorted(p.name for p in folder.iterdir()) == FILES
        for path in folder.iterdir():
            assert emulator.file_sha256(job_id, path.name) == sha256_of(path)
    with sqlite3.connect(warehouse) as db:
        loaded = dict(db.execute('SELECT job_id, COUNT(*) FROM "sixtyfour_run_results" GROUP BY job_id').fetchall())
    assert loaded == dict(zip(job_ids, (3, 5, 4), strict=True))

    assert cluster.logs_containing(TEST_API_KEY) == []
    assert not SIGNED_QUERY.search(cluster.all_log_text())
