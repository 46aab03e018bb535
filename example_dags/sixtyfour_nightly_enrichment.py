"""Nightly lead enrichment with Sixtyfour: the pipeline most teams run.

Every night this DAG:

1. reads yesterday's new leads, a CSV in object storage at
   ``<sixtyfour_input_base>/leads/<yesterday>.csv`` (any ``ObjectStoragePath`` scheme: ``s3://``,
   ``gs://``, ``file://``...);
2. runs a Sixtyfour webhook workflow on those rows, *deferrable*: while Sixtyfour works, the task
   waits in the triggerer and holds no worker slot;
3. lands every result file under ``<sixtyfour_results_base>/<ds>/`` in object storage: streamed,
   verified, never half-written, and announced as Asset events so downstream DAGs can react;
4. loads the final result file (the last block's output) into a warehouse table with a standard
   Airflow SQL hook (SQLite here; swap in your warehouse's hook);
5. logs a summary of row counts.

Settings come from Airflow Variables so that one file serves every environment:

* ``sixtyfour_workflow_id`` - the webhook workflow to run (default ``wf-demo-webhook``, an emulator workflow);
* ``sixtyfour_input_base`` / ``sixtyfour_results_base`` - object storage roots;
* ``sixtyfour_storage_conn_id`` - the connection for that storage (e.g. an ``aws`` connection), empty for ``file://``.

The Sixtyfour API key lives in the ``sixtyfour_default`` connection (password field), never in the DAG.
"""

from __future__ import annotations

import csv
import logging
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, dag, task

from airflow_provider_sixtyfour.operators.sixtyfour import (
    SixtyfourDownloadResultsOperator,
    SixtyfourRunWorkflowOperator,
)

log = logging.getLogger(__name__)

WORKFLOW_ID = "{{ var.value.get('sixtyfour_workflow_id', 'wf-demo-webhook') }}"
INPUT_BASE = "{{ var.value.get('sixtyfour_input_base', 'file:///tmp/sixtyfour/input') }}"
RESULTS_BASE = "{{ var.value.get('sixtyfour_results_base', 'file:///tmp/sixtyfour/results') }}"
STORAGE_CONN_ID = "{{ var.value.get('sixtyfour_storage_conn_id', '') }}"
WAREHOUSE_CONN_ID = "sixtyfour_warehouse"
TABLE = "enriched_leads"


def _unique_columns(names: list[str]) -> list[str]:
    """Column names made unique (``title``, ``title_2``): enrichment may add a column the input had."""
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return unique


def _storage_path(uri: str, conn_id: str) -> ObjectStoragePath:
    return ObjectStoragePath(uri, conn_id=conn_id or None)


@dag(
    dag_id="sixtyfour_nightly_enrichment",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=1)},
    tags=["sixtyfour", "example"],
    doc_md=__doc__,
)
def sixtyfour_nightly_enrichment() -> None:
    @task
    def read_leads(input_uri: str, conn_id: str) -> list[dict[str, str]]:
        """Read yesterday's leads CSV into rows (one dict per lead) for the webhook workflow."""
        path = _storage_path(input_uri, conn_id)
        if not path.exists():
            raise FileNotFoundError(f"No input leads at {input_uri}: the upstream export has not landed yet")
        with path.open("r", newline="") as handle:
            # Lines through readline: Airflow 2's ObjectStoragePath file wrapper is not iterable.
            rows = list(csv.DictReader(iter(handle.readline, "")))
        log.info("Read %d leads from %s", len(rows), input_uri)
        return rows

    leads = read_leads(f"{INPUT_BASE}/leads/{{{{ macros.ds_add(ds, -1) }}}}.csv", STORAGE_CONN_ID)

    enrich = SixtyfourRunWorkflowOperator(
        task_id="enrich_leads",
        workflow_id=WORKFLOW_ID,
        webhook_payload=leads,
        deferrable=True,
        poll_interval=5,
        timeout=pendulum.duration(hours=6),
    )

    land = SixtyfourDownloadResultsOperator(
        task_id="land_results",
        job_id="{{ ti.xcom_pull(task_ids='enrich_leads', key='job_id') }}",
        destination=f"{RESULTS_BASE}/{{{{ ds }}}}/",
        destination_conn_id=STORAGE_CONN_ID,
        files="all",
        overwrite=True,
    )

    @task
    def load_final_results(landed: list[dict[str, Any]], conn_id: str, ds: str | None = None) -> int:
        """Load the final result file (highest block number) into the warehouse table, idempotently per day."""
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        final = max(landed, key=lambda record: record["block_number"] or 0)
        with _storage_path(final["uri"], conn_id).open("r", encoding="utf-8", newline="") as handle:
            reader = csv.reader(iter(handle.readline, ""))
            header = next(reader)
            rows = [[ds, *row] for row in reader]
        columns = _unique_columns(["ds", *header])
        hook = SqliteHook(sqlite_conn_id=WAREHOUSE_CONN_ID)
        column_sql = ", ".join(f'"{name}" TEXT' for name in columns)
        hook.run(f'CREATE TABLE IF NOT EXISTS "{TABLE}" ({column_sql})')
        hook.run(f'DELETE FROM "{TABLE}" WHERE ds = ?', parameters=(ds,))  # noqa: S608 - TABLE is a constant
        hook.insert_rows(TABLE, rows, target_fields=[f'"{name}"' for name in columns])
        log.info("Loaded %d rows of %s into %s", len(rows), final["filename"], TABLE)
        return len(rows)

    @task
    def summarize(run: dict[str, Any], landed: list[dict[str, Any]], loaded: int) -> dict[str, Any]:
        """Log what the night produced: the run, each landed file and the rows loaded."""
        log.info("Sixtyfour run %s finished %s", run["job_id"], run["status"])
        for record in landed:
            log.info("Landed %s: %d rows, %d bytes", record["uri"], record["row_count"], record["bytes"])
        log.info("Loaded %d rows into %s", loaded, TABLE)
        return {"job_id": run["job_id"], "files": len(landed), "rows_loaded": loaded}

    loaded = load_final_results(land.output, STORAGE_CONN_ID)
    enrich >> land
    summarize(enrich.output, land.output, loaded)


sixtyfour_nightly_enrichment()
