"""A user's own DAG, tested offline against the emulator by ``test_user_dag_with_emulator.py``."""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import dag

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def my_enrichment() -> None:
    SixtyfourRunWorkflowOperator(
        task_id="enrich",
        workflow_id="wf-leads",
        webhook_payload=[{"name": "Ada Lovelace", "company": "Analytical Engines"}],
        poll_interval=1,
    )


my_enrichment()
