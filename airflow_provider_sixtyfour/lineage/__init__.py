"""OpenLineage for the Sixtyfour operators: what each run read and wrote, with rows, columns and the run.

The operators inherit :class:`~airflow_provider_sixtyfour.lineage.mixin.SixtyfourLineageMixin`, whose
``get_openlineage_facets_on_start/complete/failure`` the OpenLineage provider calls; they import
``openlineage`` only when called, so DAG parsing never does, and without the provider nothing calls them.
"""

from __future__ import annotations

#: Where, in this repository (and in the installed package), the ``sixtyfour`` run facet's JSON schema is.
#: Its published URL (the facet's ``_schemaURL``) and the facets' ``_producer`` come from the project's
#: ``[project.urls]``: see :mod:`airflow_provider_sixtyfour.lineage.project_urls`.
SCHEMA_PATH = "airflow_provider_sixtyfour/lineage/SixtyfourRunFacet.json"

#: The keys of our run facets in an event's ``run.facets``.
RUN_FACET_KEY = "sixtyfour"
ERROR_FACET_KEY = "sixtyfourError"
