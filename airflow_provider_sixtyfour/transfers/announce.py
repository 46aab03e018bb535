"""Landing a run's results from a task, and announcing them: Asset events and the task's lineage.

Shared by :class:`~airflow_provider_sixtyfour.operators.download_results.SixtyfourDownloadResultsOperator`
and the run operator's ``download_to``, so both land and announce files the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias, BaseOperator

from airflow_provider_sixtyfour.lineage.mixin import SixtyfourLineageMixin

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sixtyfour.transfers.landing import ResultsApi
    from airflow_provider_sixtyfour.transfers.records import LandedFile

#: The Asset alias the per-file Asset events go to, unless the task says otherwise.
DEFAULT_ASSET_ALIAS = "sixtyfour-results"


def outlets_with_alias(outlets: Sequence[Any] | None, asset_alias: str | None) -> list[Any]:
    """``outlets`` plus the ``AssetAlias`` the per-file Asset events go to (Airflow records alias
    events only for aliases a task declares)."""
    declared = list(outlets or [])
    if asset_alias and not any(isinstance(o, AssetAlias) and o.name == asset_alias for o in declared):
        declared.append(AssetAlias(asset_alias))
    return declared


def land_and_announce(
    task: BaseOperator,
    context: Context,
    hook: ResultsApi,
    job_id: str,
    destination: Any,
    *,
    asset_alias: str | None,
    **landing: Any,
) -> list[dict[str, Any]]:
    """Land a run's result files (``landing`` are :func:`land_results`'s keyword arguments), emit their
    Asset events, log the total, and return their JSON records. Shared by the download operator and
    the run operator's ``download_to``; both callers run it inside ``fail_without_retries()``."""
    from airflow_provider_sixtyfour.transfers.landing import land_results

    landed = land_results(hook, job_id, destination, **landing)
    emit_asset_events(context, landed, job_id=job_id, asset_alias=asset_alias, outlets=task.outlets)
    total = sum(f.bytes for f in landed)
    task.log.info("Landed %d result file(s) of run %s, %d bytes in all.", len(landed), job_id, total)
    records = [f.to_dict() for f in landed]
    if isinstance(task, SixtyfourLineageMixin):
        task.lineage_facts.saw_landed(records)
    return records


def emit_asset_events(
    context: Context, landed: list[LandedFile], *, job_id: str, asset_alias: str | None, outlets: Sequence[Any]
) -> None:
    """One Asset event per landed file on ``asset_alias``; declared Asset outlets get the file list."""
    outlet_events: Any = context.get("outlet_events")
    if outlet_events is None:
        return
    records = [f.to_dict() for f in landed]
    if asset_alias:
        alias_events = outlet_events[AssetAlias(asset_alias)]
        for landed_file, record in zip(landed, records, strict=True):
            alias_events.add(Asset(landed_file.uri), extra=record)
    summary = {
        "job_id": str(job_id),
        "files": [{"uri": r["uri"], "bytes": r["bytes"], "sha256": r["sha256"]} for r in records],
    }
    for outlet in outlets:
        if isinstance(outlet, Asset):
            outlet_events[outlet].extra.update(summary)
