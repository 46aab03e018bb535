"""The fault soak's slice through real Airflow: mapped run and download tasks, half of them deferred.

``SOAK_SLICE_RUNS`` runs (half wait in a worker, half in the triggerer), each landed by a mapped download
task in a folder of its own under ``SOAK_SLICE_DESTINATION``. Every task may retry three times.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef]

from airflow.providers.common.compat.sdk import AssetAlias

from airflow_provider_sixtyfour.operators.download_results import DEFAULT_ASSET_ALIAS
from airflow_provider_sixtyfour.operators.sixtyfour import (
    SixtyfourDownloadResultsOperator,
    SixtyfourRunWorkflowOperator,
)

RUNS = int(os.environ.get("SOAK_SLICE_RUNS", "20"))
DESTINATION = os.environ.get("SOAK_SLICE_DESTINATION", "file:///tmp/sixtyfour-soak-slice/")
WORKFLOW_ID = os.environ.get("SOAK_SLICE_WORKFLOW_ID", "wf-soak-slice")


def job_id_of(summary: dict[str, Any]) -> str:
    return str(summary["job_id"])


with DAG(
    "sixtyfour_soak_slice",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=1)},
):

    @task
    def batches(first: int, count: int) -> list[list[dict[str, str]]]:
        return [
            [{"email": f"lead{n}-{row}@example.com", "company": f"Company {n % 7}"} for row in range(1 + n % 3)]
            for n in range(first, first + count)
        ]

    half = RUNS // 2
    for mode, deferrable, first, count in (("sync", False, 0, half), ("deferred", True, half, RUNS - half)):
        runs = SixtyfourRunWorkflowOperator.partial(
            task_id=f"enrich_{mode}",
            workflow_id=WORKFLOW_ID,
            deferrable=deferrable,
            poll_interval=0.3,
            timeout=300,
        ).expand(webhook_payload=batches.override(task_id=f"batches_{mode}")(first, count))
        SixtyfourDownloadResultsOperator.partial(
            task_id=f"land_{mode}",
            destination=DESTINATION + mode + "/{{ ti.map_index }}/",
            max_attempts=4,
            # Declared here, not only added by the operator: Airflow 2.11 registers the aliases of a
            # mapped task from what .partial() was given, and fails the task's Dataset events otherwise.
            outlets=[AssetAlias(DEFAULT_ASSET_ALIAS)],
        ).expand(job_id=runs.output.map(job_id_of))
