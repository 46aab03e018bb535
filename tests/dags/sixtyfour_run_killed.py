"""A run task that Airflow kills (its ``execution_timeout`` passes), for ``airflow dags test``.

Airflow calls ``on_kill``, which must cancel the remote run. (On Airflow 2.11 the timeout also ends
the ``dags test`` process itself, so this task has a DAG of its own.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

with DAG("sixtyfour_run_killed", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
    SixtyfourRunWorkflowOperator(
        task_id="killed",
        workflow_id="wf-demo-slow",
        webhook_payload=[{"email": "ada@example.com", "company": "Example Ltd"}],
        poll_interval=0.3,
        retries=0,
        execution_timeout=timedelta(seconds=3),
    )
