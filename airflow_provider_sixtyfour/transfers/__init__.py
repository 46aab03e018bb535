"""Landing a run's result files in object storage (any ``ObjectStoragePath`` scheme).

One implementation, used by ``SixtyfourDownloadResultsOperator`` and by the run operator's
``download_to=``::

    from airflow_provider_sixtyfour.transfers import land_results

    landed = land_results(hook, job_id, "s3://bucket/sixtyfour/2024-06-01/", destination_conn_id="aws_default")

Heavy libraries (requests, fsspec filesystems) are imported only when files are landed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# The names below are imported when first used, not with this package: operator modules import
# transfers.announce at DAG-parse time, and landing and streaming are of no use before a task runs.
if TYPE_CHECKING:
    from airflow_provider_sixtyfour.transfers.errors import (
        SixtyfourDestinationError,
        SixtyfourDestinationMissingError,
        SixtyfourDownloadError,
        SixtyfourNoResultFilesError,
        SixtyfourResultNameError,
        SixtyfourResultsNotReadyError,
        SixtyfourTargetExistsError,
    )
    from airflow_provider_sixtyfour.transfers.landing import ResultsApi, land_results
    from airflow_provider_sixtyfour.transfers.options import DownloadOptions
    from airflow_provider_sixtyfour.transfers.records import LandedFile
    from airflow_provider_sixtyfour.transfers.selection import FileSelection
    from airflow_provider_sixtyfour.transfers.streaming import DownloadAborted

__all__ = [
    "DownloadAborted",
    "DownloadOptions",
    "FileSelection",
    "LandedFile",
    "ResultsApi",
    "SixtyfourDestinationError",
    "SixtyfourDestinationMissingError",
    "SixtyfourDownloadError",
    "SixtyfourNoResultFilesError",
    "SixtyfourResultNameError",
    "SixtyfourResultsNotReadyError",
    "SixtyfourTargetExistsError",
    "land_results",
]

_HOMES = {
    "DownloadAborted": "streaming",
    "DownloadOptions": "options",
    "FileSelection": "selection",
    "LandedFile": "records",
    "ResultsApi": "landing",
    "SixtyfourDestinationError": "errors",
    "SixtyfourDestinationMissingError": "errors",
    "SixtyfourDownloadError": "errors",
    "SixtyfourNoResultFilesError": "errors",
    "SixtyfourResultNameError": "errors",
    "SixtyfourResultsNotReadyError": "errors",
    "SixtyfourTargetExistsError": "errors",
    "land_results": "landing",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value
