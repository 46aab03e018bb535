"""All Sixtyfour operators in one place, as the provider convention expects.

Each lives in its own module; importing this one stays cheap (HTTP clients load on first use).
"""

from __future__ import annotations

from airflow_provider_sixtyfour.operators.cancel_run import SixtyfourCancelRunOperator
from airflow_provider_sixtyfour.operators.download_results import SixtyfourDownloadResultsOperator
from airflow_provider_sixtyfour.operators.run_workflow import SixtyfourRunWorkflowOperator

__all__ = [
    "SixtyfourCancelRunOperator",
    "SixtyfourDownloadResultsOperator",
    "SixtyfourRunWorkflowOperator",
]
