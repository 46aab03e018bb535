"""A run task whose ``execution_timeout`` passes while its run is still going, for ``airflow dags test``.

The operator folds ``execution_timeout`` into its own deadline (just before it), so it cancels the
remote run and fails saying so before Airflow would kill it. (Killed tasks, where Airflow calls
``on_kill``, are covered by the unit tests and by the restart drill on a real Airflow.)
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
