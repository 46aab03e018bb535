"""Apache Airflow provider for Sixtyfour's Workflows API."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["__version__", "get_provider_info"]


_ASSET_URIS = {"schemes": ["sixtyfour"], "handler": "airflow_provider_sixtyfour.assets.sanitize_uri"}


def get_provider_info() -> dict[str, Any]:
    """Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""
    from airflow_provider_sixtyfour.connection_form import (
        CONN_TYPE,
        HOOK_NAME,
        conn_fields,
        ui_field_behaviour,
    )

    return {
        "package-name": "airflow-provider-sixtyfour",
        "name": "Sixtyfour",
        "description": "Run Sixtyfour AI enrichment workflows from Airflow and land their results in object storage.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook",
                "hook-name": HOOK_NAME,
                "ui-field-behaviour": ui_field_behaviour(),
                "conn-fields": conn_fields(),
            }
        ],
        "extra-links": ["airflow_provider_sixtyfour.links.sixtyfour.SixtyfourRunLink"],
        # sixtyfour://workflows/<workflow_id>: the Assets a run-event watcher feeds (Airflow 2 reads dataset-uris).
        "asset-uris": [dict(_ASSET_URIS)],
        "dataset-uris": [dict(_ASSET_URIS)],
    }
