"""The ``sixtyfour`` run facet: what Sixtyfour says about the run behind a task.

Imported only while the OpenLineage provider builds an event (it needs ``openlineage-python``). Its
JSON schema is ``SixtyfourRunFacet.json`` beside this module; ``_schemaURL`` points to its published copy
(``project_urls.schema_url``, from ``[project.urls]``).
"""

from __future__ import annotations

import attr
from openlineage.client.facet_v2 import RunFacet

from airflow_provider_sixtyfour.lineage.project_urls import schema_url


@attr.define
class SixtyfourRunFacet(RunFacet):
    """The Sixtyfour run a task started, waited for or downloaded from.

    :param job_id: the run's id.
    :param workflow_id: the workflow it ran.
    :param workflow_name: the workflow's name.
    :param status: the run's status (``queued``, ``running``, ``completed``, ``failed``, ``cancelled``).
    :param run_url: the run's page in the Sixtyfour app (never a download URL).
    :param completed_blocks: workflow blocks completed.
    :param total_blocks: workflow blocks in all.
    :param rows_in: rows the run took in.
    :param rows_out: rows of its final output.
    :param credits_used: Sixtyfour credits it used, when the run's metrics say.
    """

    job_id: str
    workflow_id: str | None = attr.field(default=None)
    workflow_name: str | None = attr.field(default=None)
    status: str | None = attr.field(default=None)
    run_url: str | None = attr.field(default=None)
    completed_blocks: int | None = attr.field(default=None)
    total_blocks: int | None = attr.field(default=None)
    rows_in: int | None = attr.field(default=None)
    rows_out: int | None = attr.field(default=None)
    credits_used: float | None = attr.field(default=None)

    @staticmethod
    def _get_schema() -> str:
        return schema_url()
