"""The restart drill's DAG: one task per drill, all running at once on a real Airflow 3.3 cluster.

``worker_killed``: its worker process is killed mid-wait (the retry must reattach);
``triggerer_restarted``: the triggerer restarts while it waits (its deadline must hold);
``killed_running`` / ``killed_deferred``: marked failed while waiting (their runs must be cancelled);
``timeout_deferred``: outlives its ``timeout`` while deferred (its run must be cancelled).

(Airflow 3.3 does not apply ``execution_timeout`` to a deferred task, see ``test_restart_drill.py``: the
operator's ``timeout`` is what bounds a deferred wait.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

ROWS = [{"email": "ada@example.com", "company": "Example Ltd"}]

with DAG(
    "sixtyfour_restart_drill",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 0, "poll_interval": 1.0, "webhook_payload": ROWS},
):
    SixtyfourRunWorkflowOperator(
        task_id="worker_killed",
        workflow_id="wf-drill-worker",
        retries=1,
        retry_delay=timedelta(seconds=1),
    )
    SixtyfourRunWorkflowOperator(
        task_id="triggerer_restarted", workflow_id="wf-drill-triggerer", deferrable=True, timeout=900
    )
    SixtyfourRunWorkflowOperator(task_id="killed_running", workflow_id="wf-drill-kill-running")
    SixtyfourRunWorkflowOperator(task_id="killed_deferred", workflow_id="wf-drill-kill-deferred", deferrable=True)
    SixtyfourRunWorkflowOperator(
        task_id="timeout_deferred", workflow_id="wf-drill-timeout", deferrable=True, timeout=40
    )
