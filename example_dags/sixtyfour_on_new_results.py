"""React to new Sixtyfour results: a DAG scheduled on the data, not on the clock.

``SixtyfourDownloadResultsOperator`` (and the run operator's ``download_to``) emits an Asset event
for every file it lands, through the asset alias ``sixtyfour-results``: each event's URI is the
landed file (``s3://bucket/sixtyfour/2026-11-22/...csv``) and its extra holds the job id, block
number, row count, size and SHA-256. Scheduling on that alias runs this DAG whenever results land,
whichever DAG landed them.
"""

from __future__ import annotations

import logging
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import AssetAlias, dag, task

log = logging.getLogger(__name__)


@dag(
    dag_id="sixtyfour_on_new_results",
    schedule=[AssetAlias("sixtyfour-results")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["sixtyfour", "example"],
    doc_md=__doc__,
)
def sixtyfour_on_new_results() -> None:
    @task
    def report_new_files(triggering_asset_events: Any = None) -> list[dict[str, Any]]:
        """Log each file whose landing triggered this run (from the triggering Asset events)."""
        files = []
        for asset, events in (triggering_asset_events or {}).items():
            for event in events:
                extra = dict(event.extra or {})
                files.append({"uri": str(getattr(asset, "uri", asset)), **extra})
                log.info("New Sixtyfour result %s: %s rows", getattr(asset, "uri", asset), extra.get("row_count"))
        return files

    report_new_files()


sixtyfour_on_new_results()
