"""OpenLineage datasets and facets from :class:`~airflow_provider_sixtyfour.lineage.facts.LineageFacts`.

Imported only while the OpenLineage provider builds an event: it imports ``openlineage-python``
(through ``airflow.providers.openlineage`` and ``openlineage.client.facet_v2``, present in every
provider version that supports our Airflow versions). No I/O here: the columns of landed files come
in as arguments.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attr
from airflow.providers.openlineage.extractors import OperatorLineage
from openlineage.client.event_v2 import InputDataset, OutputDataset
from openlineage.client.facet_v2 import (
    documentation_job,
    error_message_run,
    external_query_run,
    output_statistics_output_dataset,
    schema_dataset,
    storage_dataset,
)

from airflow_provider_sixtyfour.lineage import ERROR_FACET_KEY, RUN_FACET_KEY
from airflow_provider_sixtyfour.lineage.facts import LineageFacts, whole_count
from airflow_provider_sixtyfour.lineage.naming import DatasetName, dataset_name
from airflow_provider_sixtyfour.lineage.project_urls import producer
from airflow_provider_sixtyfour.lineage.run_facet import SixtyfourRunFacet

log = logging.getLogger(__name__)

#: The ``_producer`` of the facets this provider builds (the repository of ``[project.urls]``).
PRODUCER = producer()

#: ``ExternalQueryRunFacet.source`` of a Sixtyfour run.
EXTERNAL_SOURCE = "sixtyfour"

#: Reads a landed file's columns: ``(uri, format) -> columns or None``.
ColumnReader = Callable[[str, str], "list[str] | None"]


def operator_lineage(
    facts: LineageFacts,
    *,
    inputs: Sequence[str] = (),
    columns: ColumnReader | None = None,
    failed: bool = False,
) -> OperatorLineage:
    """The ``OperatorLineage`` of a task: ``inputs`` (URIs), one output per landed file, run and job facets."""
    return OperatorLineage(
        inputs=[d for d in (input_dataset(uri) for uri in inputs) if d is not None],
        outputs=[d for d in (output_dataset(r, columns) for r in facts.landed) if d is not None],
        run_facets=run_facets(facts, failed=failed),
        job_facets=job_facets(facts),
    )


def input_dataset(uri: str) -> InputDataset | None:
    """The dataset a ``read_csv`` run read, or None when ``uri`` names none."""
    name = _name(uri)
    if name is None:
        return None
    return InputDataset(namespace=name.namespace, name=name.name, facets={"storage": _storage(name, "csv")})


def output_dataset(record: Mapping[str, Any], columns: ColumnReader | None = None) -> OutputDataset | None:
    """One landed file (its ``LandedFile.to_dict()`` record): schema, row count and size, storage."""
    uri = record.get("uri")
    name = _name(uri) if isinstance(uri, str) else None
    if name is None:
        return None
    fmt = record.get("format") if record.get("format") in ("csv", "json") else "csv"
    facets: dict[str, Any] = {"storage": _storage(name, str(fmt))}
    fields = columns(str(uri), str(fmt)) if columns is not None else None
    if fields:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[_schema_field(field, i) for i, field in enumerate(fields, 1)], producer=PRODUCER
        )
    output_facets: dict[str, Any] = {}
    rows, size = whole_count(record.get("row_count")), whole_count(record.get("bytes"))
    if rows is not None:
        output_facets["outputStatistics"] = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=rows, size=size, producer=PRODUCER
        )
    return OutputDataset(namespace=name.namespace, name=name.name, facets=facets, outputFacets=output_facets)


def run_facets(facts: LineageFacts, *, failed: bool = False) -> dict[str, Any]:
    """``externalQuery`` and ``sixtyfour`` once the run is known; ``sixtyfourError`` when it failed."""
    facets: dict[str, Any] = {}
    if facts.job_id:
        facets["externalQuery"] = external_query_run.ExternalQueryRunFacet(
            externalQueryId=facts.job_id, source=EXTERNAL_SOURCE, producer=PRODUCER
        )
        facets[RUN_FACET_KEY] = SixtyfourRunFacet(**facts.run_facet_fields(), producer=PRODUCER)
    if failed and facts.failure_reason:
        facets[ERROR_FACET_KEY] = error_message_run.ErrorMessageRunFacet(
            message=facts.failure_reason, programmingLanguage="Sixtyfour workflow", producer=PRODUCER
        )
    return facets


def job_facets(facts: LineageFacts) -> dict[str, Any]:
    """``documentation``: the workflow's name and description (Airflow puts a task's or DAG's own doc
    there instead when it has one)."""
    text = facts.documentation()
    if not text:
        return {}
    return {
        "documentation": documentation_job.DocumentationJobFacet(
            description=text, contentType="text/plain", producer=PRODUCER
        )
    }


def _name(uri: str) -> DatasetName | None:
    try:
        return dataset_name(uri)
    except ValueError as err:
        log.warning("Lineage: %s", err)
        return None


def _schema_field(name: str, position: int) -> schema_dataset.SchemaDatasetFacetFields:
    """A column, with its 1-based position where openlineage-python has that field (1.37, pinned with
    Airflow 3.0, has not)."""
    if _HAS_ORDINAL_POSITION:
        return schema_dataset.SchemaDatasetFacetFields(name=name, ordinal_position=position)
    return schema_dataset.SchemaDatasetFacetFields(name=name)


_HAS_ORDINAL_POSITION = "ordinal_position" in attr.fields_dict(schema_dataset.SchemaDatasetFacetFields)


def _storage(name: DatasetName, fmt: str) -> storage_dataset.StorageDatasetFacet:
    """Plain files (no table format): the store's scheme as the storage layer, and the file format."""
    return storage_dataset.StorageDatasetFacet(storageLayer=name.scheme, fileFormat=fmt, producer=PRODUCER)
