"""Land and load a Sixtyfour run's results as soon as it completes, whoever started it.

Teams start Sixtyfour workflows outside Airflow too: from the Sixtyfour app, on Sixtyfour's own
schedule, or from their CRM. This DAG is scheduled on the Asset ``sixtyfour://workflows/<workflow_id>``,
which an ``AssetWatcher`` feeds (Airflow 3): ``SixtyfourWorkflowRunEventTrigger`` waits in the
triggerer and fires once for each run of the workflow that completes. Each run of this DAG then:

1. reads the ``job_id`` of every run whose end triggered it (``triggering_asset_events``; run by hand,
   ``{"job_id": "..."}`` in the run's conf lands that run instead);
2. lands each run's result files under ``<sixtyfour_results_base>/runs/<job_id>/`` with
   ``SixtyfourDownloadResultsOperator``: streamed, verified, never half-written;
3. loads each run's final result file into a warehouse table, one row per result row, keyed by job id
   so that landing a run again replaces its rows.

Airflow 2 has no watchers: there the DAG is scheduled on the Dataset of the same URI, which asset
events created through Airflow's REST API (by a webhook receiver, say) still trigger.

Settings: ``WORKFLOW_ID`` below (the Asset is fixed when the DAG is parsed); the Airflow Variables
``sixtyfour_results_base`` and ``sixtyfour_storage_conn_id`` (as in ``sixtyfour_nightly_enrichment``).
The Sixtyfour API key lives in the ``sixtyfour_default`` connection, never in the DAG.
"""

from __future__ import annotations

import csv
import json
import logging
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import Asset, ObjectStoragePath, dag, task

from airflow_provider_sixtyfour.assets import workflow_asset_uri
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourDownloadResultsOperator
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunEventTrigger

try:
    from airflow.sdk import AssetWatcher
except ImportError:  # Airflow 2
    AssetWatcher = None

log = logging.getLogger(__name__)

WORKFLOW_ID = "wf-demo-webhook"
POLL_INTERVAL = 30.0
RESULTS_BASE = "{{ var.value.get('sixtyfour_results_base', 'file:///tmp/sixtyfour/results') }}"
STORAGE_CONN_ID = "{{ var.value.get('sixtyfour_storage_conn_id', '') }}"
WAREHOUSE_CONN_ID = "sixtyfour_warehouse"
TABLE = "sixtyfour_run_results"


def _runs_completed() -> Asset:
    uri = workflow_asset_uri(WORKFLOW_ID)
    if AssetWatcher is None:
        return Asset(uri)
    trigger = SixtyfourWorkflowRunEventTrigger(
        workflow_id=WORKFLOW_ID, statuses=("completed",), poll_interval=POLL_INTERVAL
    )
    return Asset(name=uri, uri=uri, watchers=[AssetWatcher(name=f"{WORKFLOW_ID}-completed", trigger=trigger)])


def _job_ids(events_by_asset: Any) -> list[str]:
    """The job ids in the triggering events: a watcher's payload is the event's ``extra["payload"]``."""
    job_ids: list[str] = []
    for events in (events_by_asset or {}).values():
        for event in events:
            extra = dict(event.extra or {})
            payload = extra.get("payload") if isinstance(extra.get("payload"), dict) else extra
            job_id = payload.get("job_id")
            if isinstance(job_id, str) and job_id and job_id not in job_ids:
                job_ids.append(job_id)
    return job_ids


@dag(
    dag_id="sixtyfour_on_run_completed",
    schedule=[_runs_completed()],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["sixtyfour", "example"],
    doc_md=__doc__,
)
def sixtyfour_on_run_completed() -> None:
    @task
    def completed_runs(
        results_base: str,
        triggering_asset_events: Any = None,
        triggering_dataset_events: Any = None,
        dag_run: Any = None,
    ) -> list[dict[str, str]]:
        """One landing per run that triggered this DAG run (several runs may end before it starts)."""
        job_ids = _job_ids(triggering_asset_events) or _job_ids(triggering_dataset_events)
        conf = getattr(dag_run, "conf", None) or {}
        if not job_ids and isinstance(conf.get("job_id"), str):
            job_ids = [conf["job_id"]]
        log.info("Landing the results of Sixtyfour runs %s", ", ".join(job_ids) or "(none)")
        return [{"job_id": job_id, "destination": f"{results_base.rstrip('/')}/runs/{job_id}/"} for job_id in job_ids]

    runs = completed_runs(RESULTS_BASE)

    land = SixtyfourDownloadResultsOperator.partial(
        task_id="land_results", destination_conn_id=STORAGE_CONN_ID, files="all", overwrite=True
    ).expand_kwargs(runs)

    @task
    def load_results(landed: Any, conn_id: str) -> int:
        """Load each run's final result file (highest block number), replacing that run's earlier rows."""
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        hook = SqliteHook(sqlite_conn_id=WAREHOUSE_CONN_ID)
        hook.run(f'CREATE TABLE IF NOT EXISTS "{TABLE}" (job_id TEXT, row_number INTEGER, data TEXT)')
        loaded = 0
        for records in landed:
            final = max(records, key=lambda record: record["block_number"] or 0)
            path = ObjectStoragePath(final["uri"], conn_id=conn_id or None)
            with path.open("r", encoding="utf-8", newline="") as handle:
                # Lines through readline: Airflow 2's ObjectStoragePath file wrapper is not iterable.
                rows = [
                    (final["job_id"], number, json.dumps(row))
                    for number, row in enumerate(csv.DictReader(iter(handle.readline, "")), 1)
                ]
            hook.run(f'DELETE FROM "{TABLE}" WHERE job_id = ?', parameters=(final["job_id"],))  # noqa: S608
            hook.insert_rows(TABLE, rows, target_fields=["job_id", "row_number", "data"])
            log.info("Loaded %d rows of run %s (%s) into %s", len(rows), final["job_id"], final["filename"], TABLE)
            loaded += len(rows)
        return loaded

    load_results(land.output, STORAGE_CONN_ID)


sixtyfour_on_run_completed()
