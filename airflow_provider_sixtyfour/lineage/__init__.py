"""OpenLineage for the Sixtyfour operators: what each run read and wrote, with rows, columns and the run.

The operators inherit :class:`~airflow_provider_sixtyfour.lineage.mixin.SixtyfourLineageMixin`, whose
``get_openlineage_facets_on_start/complete/failure`` the OpenLineage provider calls; they import
``openlineage`` only when called, so DAG parsing never does, and without the provider nothing calls them.
"""

from __future__ import annotations

from airflow_provider_sixtyfour import __version__

#: Where this repository publishes the ``sixtyfour`` run facet's JSON schema.
REPOSITORY_URL = "https://github.com/sixtyfour-ai/airflow-provider-sixtyfour"
SCHEMA_PATH = "airflow_provider_sixtyfour/lineage/SixtyfourRunFacet.json"
SCHEMA_URL = f"https://raw.githubusercontent.com/sixtyfour-ai/airflow-provider-sixtyfour/main/{SCHEMA_PATH}#/$defs/SixtyfourRunFacet"

#: The ``_producer`` of the facets this provider builds.
PRODUCER = f"{REPOSITORY_URL}/tree/{__version__}"

#: The keys of our run facets in an event's ``run.facets``.
RUN_FACET_KEY = "sixtyfour"
ERROR_FACET_KEY = "sixtyfourError"
