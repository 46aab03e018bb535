"""``get_openlineage_facets_on_start/complete/failure`` for the Sixtyfour operators.

The operators inherit :class:`SixtyfourLineageMixin` and only record what they learn in
:attr:`~SixtyfourLineageMixin.lineage_facts`; everything else happens here, when the OpenLineage
provider asks. Importing this module imports no ``openlineage`` code (DAG parsing stays cheap).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from airflow_provider_sixtyfour.hooks.lazy import sync_hook
from airflow_provider_sixtyfour.lineage.facts import LineageFacts

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

log = logging.getLogger(__name__)


class SixtyfourLineageMixin:
    """OpenLineage methods for an operator with a ``sixtyfour_conn_id``.

    An operator names the attribute holding the file its run reads (``lineage_input_field``) and the
    one holding the connection of the store it lands files in (``lineage_storage_conn_field``).
    """

    sixtyfour_conn_id: str
    lineage_input_field: str | None = None
    lineage_storage_conn_field: str | None = None

    @property
    def lineage_facts(self) -> LineageFacts:
        """What this task instance learned about its run so far."""
        facts = self.__dict__.get("_lineage_facts")
        if facts is None:
            facts = LineageFacts()
            self.__dict__["_lineage_facts"] = facts
        return facts

    def get_openlineage_facets_on_start(self) -> Any:
        """Inputs and whatever is known before the run (on a resumed task: what it learned so far)."""
        from airflow_provider_sixtyfour.lineage.facets import operator_lineage

        return operator_lineage(self.lineage_facts, inputs=self._lineage_inputs())

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Inputs, one output per landed file (schema, rows, size), the run's facets and the workflow's doc."""
        return self._lineage(failed=False)

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> Any:
        """As on completion, with Sixtyfour's reason for the failure when the run failed."""
        return self._lineage(failed=True)

    def _lineage(self, *, failed: bool) -> Any:
        from airflow_provider_sixtyfour.lineage.columns import read_columns
        from airflow_provider_sixtyfour.lineage.facets import operator_lineage
        from airflow_provider_sixtyfour.lineage.gather import fill_from_api

        facts = self.lineage_facts
        if facts.job_id:
            try:
                with self._lineage_hook() as hook:
                    fill_from_api(facts, hook)
            except Exception as err:  # a missing connection leaves the API's facts out, not the event
                log.warning("Lineage: could not reach Sixtyfour for run %s: %s", facts.job_id, err)
        conn_id = self._lineage_storage_conn_id()
        return operator_lineage(
            facts,
            inputs=self._lineage_inputs(),
            columns=lambda uri, fmt: read_columns(uri, fmt, conn_id),
            failed=failed,
        )

    def _lineage_hook(self) -> SixtyfourHook:
        return sync_hook(self.sixtyfour_conn_id)

    def _lineage_inputs(self) -> list[str]:
        """URIs of the files the task's run read."""
        from airflow_provider_sixtyfour.lineage.naming import uri_of

        value = getattr(self, self.lineage_input_field, None) if self.lineage_input_field else None
        uri = uri_of(value) if value is not None else None
        return [uri] if uri else []

    def _lineage_storage_conn_id(self) -> str | None:
        """The connection of the store the task landed files in (None: the store's defaults)."""
        value = getattr(self, self.lineage_storage_conn_field, None) if self.lineage_storage_conn_field else None
        return str(value) if value else None
