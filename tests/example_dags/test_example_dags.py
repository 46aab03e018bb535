"""Every example DAG parses, and runs end to end through ``airflow dags test`` against the emulator."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.airflow_cli import AirflowCli
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY
from helpers.lineage import lineage_events, openlineage_env
from lineage.events import assert_one_output_per_landed_file, task_events, validate_event

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "example_dags").glob("*.py"))
DS, YESTERDAY = "2026-03-02", "2026-03-01"

pytestmark = pytest.mark.slow


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture
def examples(airflow_cli: AirflowCli, emulator: Any, tmp_path: Path) -> dict[str, str]:
    """The example DAGs in the DAGs folder, and the env that points them at the emulator and tmp storage."""
    for path in EXAMPLES:
        shutil.copy(path, airflow_cli.dags_folder)
    env = {
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url),
        "AIRFLOW_CONN_SIXTYFOUR_WAREHOUSE": json.dumps({"conn_type": "sqlite", "host": str(tmp_path / "wh.db")}),
        "AIRFLOW_VAR_SIXTYFOUR_INPUT_BASE": (tmp_path / "input").as_uri(),
        "AIRFLOW_VAR_SIXTYFOUR_RESULTS_BASE": (tmp_path / "results").as_uri(),
        **openlineage_env(airflow_cli.home),  # the real OpenLineage provider writes its events to files
    }
    # As the DAG processor of a deployment does; Airflow 2's ``dags test`` needs the DAGs' dataset
    # aliases in the database to record alias events.
    airflow_cli.run("dags", "reserialize", extra_env=env, check=True)
    return env


def _no_secrets(airflow_cli: AirflowCli, output: str) -> None:
    for text in (output, airflow_cli.all_logs()):
        assert TEST_API_KEY not in text
        assert "signature=" not in text


def test_every_example_dag_parses_without_import_errors(airflow_cli: AirflowCli, examples: dict[str, str]) -> None:
    errors = airflow_cli.run("dags", "list-import-errors", "-o", "json", extra_env=examples, check=True)
    assert airflow_cli.json_output(errors.stdout) == []
    listed = airflow_cli.run("dags", "list", "-o", "json", extra_env=examples, check=True)
    dag_ids = {dag["dag_id"] for dag in airflow_cli.json_output(listed.stdout)}
    assert dag_ids == {path.stem for path in EXAMPLES}


def test_nightly_enrichment_runs_end_to_end(
    airflow_cli: AirflowCli, examples: dict[str, str], emulator: Any, tmp_path: Path
) -> None:
    rows = [[f"Lead {i}", f"Company {i}, Ltd", f'line one\nline "two" {i}', "CTO"] for i in range(25)]
    # "title" is also a column the enrich_lead block adds: the load must keep both.
    _write_csv(tmp_path / "input" / "leads" / f"{YESTERDAY}.csv", ["name", "company", "note", "title"], rows)

    proc = airflow_cli.run("dags", "test", "sixtyfour_nightly_enrichment", DS, extra_env=examples, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:]

    landed = sorted(p.name for p in (tmp_path / "results" / DS).iterdir())
    assert landed == ["block_01_webhook.csv", "block_02_enrich_lead.csv", "block_03_find_email.csv"]
    assert emulator.runs_started() == 1
    with sqlite3.connect(tmp_path / "wh.db") as db:
        loaded = db.execute(
            'SELECT name, note, title, title_2 FROM "enriched_leads" WHERE ds = ? ORDER BY rowid', (DS,)
        ).fetchall()
    assert [row[:3] for row in loaded] == [(row[0], row[2], row[3]) for row in rows]
    assert all(row[3] for row in loaded)  # the enriched title, beside the input's
    assert "Loaded 25 rows into enriched_leads" in proc.stdout + airflow_cli.all_logs()
    _no_secrets(airflow_cli, proc.stdout)

    # Lineage: every event is valid; the landing task's names each landed file with its rows and
    # columns, and the run; the run task names the run (its input is webhook rows, not a file).
    events = lineage_events(airflow_cli.home)
    for event in events:
        validate_event(event)
    (landing,) = task_events(events, "land_results", "COMPLETE")
    assert_one_output_per_landed_file(landing, tmp_path / "results" / DS)
    (run,) = task_events(events, "enrich_leads", "COMPLETE")
    job_id = run["run"]["facets"]["externalQuery"]["externalQueryId"]
    assert run["run"]["facets"]["externalQuery"]["source"] == "sixtyfour"
    facet = run["run"]["facets"]["sixtyfour"]
    assert (facet["job_id"], facet["workflow_id"], facet["status"]) == (job_id, "wf-demo-webhook", "completed")
    assert (facet["rows_in"], facet["rows_out"], facet["completed_blocks"]) == (25, 25, 3)
    assert facet["run_url"].endswith(job_id)
    assert facet["workflow_name"]
    assert landing["run"]["facets"]["sixtyfour"]["job_id"] == job_id


def test_read_csv_workflow_uploads_and_lands_in_one_task(
    airflow_cli: AirflowCli, examples: dict[str, str], emulator: Any, tmp_path: Path
) -> None:
    companies = [[f"Company {i}", f"company{i}.example"] for i in range(12)]
    _write_csv(tmp_path / "input" / "companies" / f"{YESTERDAY}.csv", ["company", "domain"], companies)

    proc = airflow_cli.run("dags", "test", "sixtyfour_read_csv_workflow", DS, extra_env=examples, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:]

    folder = tmp_path / "results" / "companies" / DS
    files = sorted(folder.iterdir())
    assert [p.name for p in files] == [
        "block_01_read_csv.csv",
        "block_02_enrich_company.csv",
        "block_03_find_email.csv",
    ]
    with files[-1].open(newline="") as handle:
        final = list(csv.DictReader(handle))
    assert [row["company"] for row in final] == [c[0] for c in companies]
    assert emulator.runs_started() == 1
    _no_secrets(airflow_cli, proc.stdout)

    # Lineage: the input CSV, one output per landed file with its rows and columns, and the run.
    events = lineage_events(airflow_cli.home)
    for event in events:
        validate_event(event)
    (done,) = task_events(events, "enrich_companies_csv", "COMPLETE")
    source = tmp_path / "input" / "companies" / f"{YESTERDAY}.csv"
    assert [(d["namespace"], d["name"]) for d in done["inputs"]] == [("file", str(source))]
    assert_one_output_per_landed_file(done, folder)
    facet = done["run"]["facets"]["sixtyfour"]
    assert (facet["workflow_id"], facet["status"], facet["rows_in"], facet["rows_out"]) == (
        "wf-demo-read-csv", "completed", 12, 12
    )  # fmt: skip
    assert facet["credits_used"] >= 0
    assert all(e["inputs"] == done["inputs"] for e in task_events(events, "enrich_companies_csv", "START"))


def test_on_new_results_runs(airflow_cli: AirflowCli, examples: dict[str, str]) -> None:
    proc = airflow_cli.run("dags", "test", "sixtyfour_on_new_results", DS, extra_env=examples)
    assert proc.returncode == 0, proc.stdout[-6000:]


def test_on_run_completed_lands_and_loads_a_run_started_outside_airflow(
    airflow_cli: AirflowCli, examples: dict[str, str], emulator: Any, sixtyfour_conn: str, tmp_path: Path
) -> None:
    """Run by hand with the run's job id in its conf, as the watcher's event would name it."""
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.protocol.statuses import RunStatus

    rows = [{"name": f"Lead {i}", "note": f"two\nlines {i}"} for i in range(7)]
    with SixtyfourHook(sixtyfour_conn) as hook:
        job_id = hook.run_workflow("wf-demo-webhook", rows).job_id
        deadline = time.monotonic() + 60
        while hook.get_live_status(job_id).status is not RunStatus.COMPLETED:
            assert time.monotonic() < deadline, "the run did not complete"
            time.sleep(0.2)

    proc = airflow_cli.run(
        "dags", "test", "sixtyfour_on_run_completed", DS, "--conf", json.dumps({"job_id": job_id}),
        extra_env=examples, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-6000:]

    folder = tmp_path / "results" / "runs" / job_id
    assert sorted(p.name for p in folder.iterdir()) == [
        "block_01_webhook.csv",
        "block_02_enrich_lead.csv",
        "block_03_find_email.csv",
    ]
    with sqlite3.connect(tmp_path / "wh.db") as db:
        loaded = db.execute(
            'SELECT job_id, row_number, data FROM "sixtyfour_run_results" ORDER BY row_number'
        ).fetchall()
    assert [(j, n) for j, n, _ in loaded] == [(job_id, n) for n in range(1, 8)]
    assert [json.loads(data)["note"] for _, _, data in loaded] == [row["note"] for row in rows]
    assert emulator.runs_started() == 1
    _no_secrets(airflow_cli, proc.stdout)


def test_on_run_completed_without_a_triggering_run_lands_nothing(
    airflow_cli: AirflowCli, examples: dict[str, str]
) -> None:
    proc = airflow_cli.run("dags", "test", "sixtyfour_on_run_completed", DS, extra_env=examples)
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert "Landing the results of Sixtyfour runs (none)" in proc.stdout + airflow_cli.all_logs()
