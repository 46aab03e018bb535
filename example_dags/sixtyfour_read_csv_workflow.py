"""Enrich a CSV file with a ``read_csv`` Sixtyfour workflow, in one task.

Workflows whose first block is ``read_csv`` take a CSV file instead of webhook rows. The run operator
uploads the file from object storage (``input_csv``: an ``ObjectStoragePath`` or a URI, read with
``input_csv_conn_id``), passes the upload's handle to the workflow as
``specs_override.resource_handle_id``, waits without holding a worker (``deferrable=True``) and,
with ``download_to``, lands the results in object storage in the same task: the same streamed,
verified, atomic landing as ``SixtyfourDownloadResultsOperator``.

Variables: ``sixtyfour_csv_workflow_id`` (default ``wf-demo-read-csv``), ``sixtyfour_input_base``,
``sixtyfour_results_base`` and ``sixtyfour_storage_conn_id``, as in ``sixtyfour_nightly_enrichment``.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import dag

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

INPUT_BASE = "{{ var.value.get('sixtyfour_input_base', 'file:///tmp/sixtyfour/input') }}"
RESULTS_BASE = "{{ var.value.get('sixtyfour_results_base', 'file:///tmp/sixtyfour/results') }}"
STORAGE_CONN_ID = "{{ var.value.get('sixtyfour_storage_conn_id', '') }}"


@dag(
    dag_id="sixtyfour_read_csv_workflow",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=1)},
    tags=["sixtyfour", "example"],
    doc_md=__doc__,
)
def sixtyfour_read_csv_workflow() -> None:
    SixtyfourRunWorkflowOperator(
        task_id="enrich_companies_csv",
        workflow_id="{{ var.value.get('sixtyfour_csv_workflow_id', 'wf-demo-read-csv') }}",
        input_csv=f"{INPUT_BASE}/companies/{{{{ macros.ds_add(ds, -1) }}}}.csv",
        input_csv_conn_id=STORAGE_CONN_ID,
        deferrable=True,
        timeout=pendulum.duration(hours=6),
        download_to=f"{RESULTS_BASE}/companies/{{{{ ds }}}}/",
        download_conn_id=STORAGE_CONN_ID,
        download_overwrite=True,
    )


sixtyfour_read_csv_workflow()
