"""Every way a run can fail to succeed, as independent tasks, for ``airflow dags test`` against the emulator.

``failed``: the workflow fails; ``cancelled``: someone cancels the run mid-way (the test does);
``timed_out_sync``/``timed_out_deferred``: the run outlives ``timeout``;
``bad_input``: no payload for a webhook workflow.
"""

from __future__ import annotations

from datetime import datetime, timedelta

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

ROWS = [{"email": "ada@example.com", "company": "Example Ltd"}]

with DAG(
    "sixtyfour_run_failures",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 0, "poll_interval": 0.3},
) as dag:
    SixtyfourRunWorkflowOperator(task_id="failed", workflow_id="wf-demo-failing", webhook_payload=ROWS)
    SixtyfourRunWorkflowOperator(task_id="cancelled", workflow_id="wf-cancel-me", webhook_payload=ROWS)
    SixtyfourRunWorkflowOperator(task_id="timed_out_sync", workflow_id="wf-demo-slow", webhook_payload=ROWS, timeout=2)
    SixtyfourRunWorkflowOperator(
        task_id="timed_out_deferred",
        workflow_id="wf-demo-slow",
        webhook_payload=ROWS,
        timeout=timedelta(seconds=2),
        deferrable=True,
    )
    SixtyfourRunWorkflowOperator(task_id="bad_input", workflow_id="wf-demo-webhook")
