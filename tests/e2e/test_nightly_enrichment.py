"""The example nightly pipeline on a real Airflow 3.3: API server, scheduler, DAG processor, triggerer.

Triggered through the REST API; checks that the wait really happened in the triggerer process, that
the results landed byte for byte, that the warehouse table holds the rows, that the emulator saw
exactly one run, and that no log of any process carries the API key or a signed URL.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from helpers.connections import sixtyfour_connection_uri_json
from helpers.files import sha256_of
from helpers.keys import TEST_API_KEY
from helpers.lineage import lineage_events, openlineage_env
from lineage.events import assert_one_output_per_landed_file, task_events, validate_event

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "sixtyfour_nightly_enrichment"
FOLLOW_UP_DAG_ID = "sixtyfour_on_new_results"
WORKFLOW_ID = "wf-e2e-nightly"
LOGICAL_DATE = "2026-01-15T00:00:00+00:00"
DS, YESTERDAY = "2026-01-15", "2026-01-14"
SIGNED_QUERY = re.compile(r"[?&](signature|expires)=", re.IGNORECASE)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _seed_leads(path: Path, count: int) -> None:
    path.parent.mkdir(parents=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "company", "note"])
        for index in range(count):
            writer.writerow([f"Lead {index}", f"Company {index % 7}, Inc.", f'says "hi"\non two lines #{index}'])


def test_nightly_pipeline_on_a_real_airflow(airflow_cluster, emulator, sixtyfour_conn: str, tmp_path: Path) -> None:
    from airflow_provider_sixtyfour.emulator import WorkflowSpec
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    # Long enough (> 5 s) to stay clear of Airflow 3.3's early-trigger-event race (see airflow_cluster.py).
    emulator.add_workflow(
        WorkflowSpec(
            workflow_id=WORKFLOW_ID,
            first_block="webhook",
            blocks=("webhook", "enrich_lead", "find_email"),
            duration_seconds=8,
        )
    )
    leads = 40
    _seed_leads(tmp_path / "data" / "input" / "leads" / f"{YESTERDAY}.csv", leads)
    dags = tmp_path / "dags"
    dags.mkdir()
    for name in (DAG_ID, FOLLOW_UP_DAG_ID):
        shutil.copy(ROOT / "example_dags" / f"{name}.py", dags)
    warehouse = tmp_path / "warehouse.db"
    env = {
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url),
        "AIRFLOW_CONN_SIXTYFOUR_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(warehouse)}),
        "AIRFLOW_VAR_SIXTYFOUR_WORKFLOW_ID": WORKFLOW_ID,
        "AIRFLOW_VAR_SIXTYFOUR_INPUT_BASE": (tmp_path / "data" / "input").as_uri(),
        "AIRFLOW_VAR_SIXTYFOUR_RESULTS_BASE": (tmp_path / "data" / "results").as_uri(),
        **openlineage_env(tmp_path / "airflow-home"),  # the cluster's home (see the airflow_cluster fixture)
    }

    # Scheduled runs on, so that the asset-scheduled follow-up DAG runs when results land. "@daily" with
    # catchup=False is a cron trigger on Airflow 3: unpausing starts nothing before the next midnight UTC.
    cluster = airflow_cluster(dags, env=env, scheduled_runs=True)
    for dag_id in (DAG_ID, FOLLOW_UP_DAG_ID):
        cluster.wait_for_dag(dag_id)
        cluster.unpause(dag_id)
    run_id = cluster.trigger_dag(DAG_ID, logical_date=LOGICAL_DATE)
    state = cluster.wait_for_dag_run(DAG_ID, run_id, timeout=180)
    assert state == "success", cluster.diagnostics()

    # The wait happened in the triggerer process, not inline in the worker.
    cluster.assert_deferred_in_triggerer(DAG_ID, run_id, "enrich_leads")

    # Exactly one paid run, and every result file landed byte for byte.
    assert emulator.runs_started() == 1
    (run,) = SixtyfourHook(sixtyfour_conn).list_runs(workflow_id=WORKFLOW_ID)
    assert run.status.value == "completed"
    results = tmp_path / "data" / "results" / DS
    landed = sorted(results.iterdir())
    assert [path.name for path in landed] == [
        "block_01_webhook.csv",
        "block_02_enrich_lead.csv",
        "block_03_find_email.csv",
    ]
    for path in landed:
        assert emulator.file_sha256(run.job_id, path.name) == sha256_of(path)
    assert not [p for p in results.parent.rglob("*") if "partial" in p.name]

    # The final file is in the warehouse, one row per lead, quoted newlines intact.
    with sqlite3.connect(warehouse) as db:
        rows = db.execute('SELECT name, note FROM "enriched_leads" WHERE ds = ? ORDER BY rowid', (DS,)).fetchall()
    assert len(rows) == leads
    assert rows[3] == ("Lead 3", 'says "hi"\non two lines #3')

    # The landed files' Asset events (through the alias) scheduled the follow-up DAG.
    follow_up = _wait_for_asset_triggered_run(cluster, FOLLOW_UP_DAG_ID)
    assert cluster.wait_for_dag_run(FOLLOW_UP_DAG_ID, follow_up["dag_run_id"], timeout=90) == "success"

    # The worker emitted lineage: each landed file with its rows and columns, and the run.
    events = lineage_events(cluster.home)
    for event in events:
        validate_event(event)
    (landing,) = task_events(events, "land_results", "COMPLETE")
    assert_one_output_per_landed_file(landing, results)
    assert landing["run"]["facets"]["sixtyfour"]["job_id"] == run.job_id
    (enrich,) = task_events(events, "enrich_leads", "COMPLETE")
    assert enrich["run"]["facets"]["sixtyfour"]["rows_out"] == leads

    # No log of any process or task holds the API key or a signed URL's query string.
    assert cluster.logs_containing(TEST_API_KEY) == []
    assert not SIGNED_QUERY.search(cluster.all_log_text())


def _wait_for_asset_triggered_run(cluster: object, dag_id: str, timeout: float = 90) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = cluster.api("GET", f"/dags/{dag_id}/dagRuns")  # type: ignore[attr-defined]
        runs = answer.body.get("dag_runs", []) if isinstance(answer.body, dict) else []
        if runs:
            (run,) = runs
            assert run["run_type"] == "asset_triggered", run
            return dict(run)
        time.sleep(1)
    raise AssertionError(f"{dag_id} was not triggered by the results' Asset events within {timeout} s")
