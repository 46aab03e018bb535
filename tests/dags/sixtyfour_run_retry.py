"""One run task with retries, for ``airflow dags test``: a retry must reattach, never pay twice."""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

with DAG("sixtyfour_run_retry", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    SixtyfourRunWorkflowOperator(
        task_id="enrich",
        workflow_id="wf-demo-webhook",
        webhook_payload=[{"email": "ada@example.com", "company": "Example Ltd"}],
        poll_interval=0.3,
        retries=2,
        retry_delay=timedelta(seconds=0),
    )
