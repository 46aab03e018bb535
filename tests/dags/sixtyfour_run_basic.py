"""The run and cancel operators' happy paths, for ``airflow dags test`` against the emulator.

Rows come from an upstream task (an XComArg); one run waits in the worker, one defers to the
triggerer; one uploads a CSV whose URI is templated from an upstream task; a fourth is started
without waiting and cancelled by the cancel operator; cancelling a finished run is a no-op.
``check`` prints what downstream tasks and the extra link see.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from typing import Any, NamedTuple

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task

from airflow_provider_sixtyfour.links.sixtyfour import SixtyfourRunLink
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourCancelRunOperator, SixtyfourRunWorkflowOperator

RUN_TASKS = ("enrich_sync", "enrich_deferred", "enrich_csv")


class TiKey(NamedTuple):
    dag_id: str
    task_id: str
    run_id: str
    try_number: int
    map_index: int


with DAG("sixtyfour_run_basic", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:

    @task
    def leads() -> list[dict[str, str]]:
        return [
            {"email": "ada@example.com", "company": "Example Ltd"},
            {"email": "grace@example.com", "company": "Navy"},
            {"email": "alan@example.com", "company": "ACE"},
        ]

    @task
    def write_csv() -> str:
        folder = tempfile.mkdtemp(prefix="sixtyfour-test-")
        with open(f"{folder}/companies.csv", "w") as handle:
            handle.write("company,domain\nExample,example.com\nACE,ace.test\nInitech,initech.test\nHooli,hooli.test\n")
        return f"file://{folder}/companies.csv"

    rows = leads()
    csv_uri = write_csv()
    enrich_sync = SixtyfourRunWorkflowOperator(
        task_id="enrich_sync",
        workflow_id="wf-demo-webhook",
        webhook_payload=rows,
        deferrable=False,
        poll_interval=0.5,
    )
    enrich_deferred = SixtyfourRunWorkflowOperator(
        task_id="enrich_deferred",
        workflow_id="{{ 'wf-demo-' ~ 'webhook' }}",
        webhook_payload=rows,
        deferrable=True,
        poll_interval=0.5,
        timeout=600,
    )
    enrich_csv = SixtyfourRunWorkflowOperator(
        task_id="enrich_csv",
        workflow_id="wf-demo-read-csv",
        input_csv="{{ ti.xcom_pull(task_ids='write_csv') }}",
        poll_interval=0.5,
    )
    start_only = SixtyfourRunWorkflowOperator(
        task_id="start_only",
        workflow_id="wf-demo-slow",
        webhook_payload=rows,
        wait_for_completion=False,
    )
    cancel = SixtyfourCancelRunOperator(
        task_id="cancel",
        job_id="{{ ti.xcom_pull(task_ids='start_only', key='job_id') }}",
        poll_interval=0.3,
        timeout=60,
    )
    cancel_finished = SixtyfourCancelRunOperator(
        task_id="cancel_finished",
        job_id="{{ ti.xcom_pull(task_ids='enrich_sync', key='job_id') }}",
    )

    @task
    def check(**context: Any) -> None:
        ti = context["ti"]
        seen: dict[str, Any] = {}
        for task_id in RUN_TASKS:
            xcoms = {k: ti.xcom_pull(task_ids=task_id, key=k) for k in ("job_id", "run_url", "workflow_id")}
            xcoms["summary"] = ti.xcom_pull(task_ids=task_id)
            key = TiKey(ti.dag_id, task_id, ti.run_id, 1, -1)
            xcoms["link"] = SixtyfourRunLink().get_link(dag.get_task(task_id), ti_key=key)
            link_key = getattr(SixtyfourRunLink(), "xcom_key", None)
            xcoms["ui_link"] = ti.xcom_pull(task_ids=task_id, key=link_key) if link_key else xcoms["link"]
            seen[task_id] = xcoms
        seen["cancel"] = ti.xcom_pull(task_ids="cancel")
        seen["cancel_finished"] = ti.xcom_pull(task_ids="cancel_finished")
        print("SIXTYFOUR_CHECK " + json.dumps(seen))

    csv_uri >> enrich_csv
    start_only >> cancel
    enrich_sync >> cancel_finished
    [enrich_sync, enrich_deferred, enrich_csv, cancel, cancel_finished] >> check()
