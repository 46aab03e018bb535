"""The ``sixtyfour`` connection type's form, defined once.

Both ``get_provider_info()`` (``ui-field-behaviour`` and ``conn-fields``, read by Airflow 3.2+) and
the hook's classmethods (``get_ui_field_behaviour``/``get_connection_form_widgets``, read by older
Airflow) are generated from the definitions below, so the two can never drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_sixtyfour.protocol.endpoints import DEFAULT_BASE_URL

CONN_TYPE = "sixtyfour"
DEFAULT_CONN_ID = "sixtyfour_default"
HOOK_NAME = "Sixtyfour"
APP_BASE_URL = "https://app.sixtyfour.ai"


@dataclass(frozen=True)
class ExtraField:
    """One setting stored in the connection's ``extra`` JSON."""

    name: str
    label: str
    description: str
    type: str  # "number", "integer" or "string"
    default: Any
    minimum: float | None = None


EXTRA_FIELDS: tuple[ExtraField, ...] = (
    ExtraField(
        "timeout",
        "Request timeout (seconds)",
        "Seconds to wait for each API answer before the request counts as failed and is retried.",
        "number",
        30.0,
        minimum=1,
    ),
    ExtraField(
        "max_retries",
        "Retries per request",
        "How many times a request is retried on 429, 5xx or a lost connection (0 disables retries).",
        "integer",
        5,
        minimum=0,
    ),
    ExtraField(
        "backoff_base",
        "First retry wait (seconds)",
        "Seconds before the first retry; each further retry waits about twice as long (with jitter).",
        "number",
        1.0,
        minimum=0,
    ),
    ExtraField(
        "app_url",
        "Sixtyfour app URL",
        "Base URL of the Sixtyfour web app, used for the 'Sixtyfour run' link on task instances.",
        "string",
        APP_BASE_URL,
    ),
)

HIDDEN_FIELDS: list[str] = ["schema", "port", "login"]
RELABELING: dict[str, str] = {"password": "API key", "host": "API base URL (leave empty for Sixtyfour)"}
PLACEHOLDERS: dict[str, str] = {
    "password": "your Sixtyfour API key",
    "host": DEFAULT_BASE_URL,
}


def ui_field_behaviour() -> dict[str, Any]:
    """The form's standard-field behaviour in the provider-info shape (``hidden-fields``, read by Airflow 3.2+)."""
    return {key.replace("_", "-"): value for key, value in hook_ui_field_behaviour().items()}


def hook_ui_field_behaviour() -> dict[str, Any]:
    """The same behaviour in the shape of the hook's ``get_ui_field_behaviour()`` (``hidden_fields``)."""
    return {
        "hidden_fields": list(HIDDEN_FIELDS),
        "relabeling": dict(RELABELING),
        "placeholders": dict(PLACEHOLDERS),
    }


def conn_fields() -> dict[str, Any]:
    """The extra fields in the ``conn-fields`` shape of Airflow 3.2+ provider info."""
    fields: dict[str, Any] = {}
    for extra in EXTRA_FIELDS:
        schema: dict[str, Any] = {"type": [extra.type, "null"], "default": extra.default}
        if extra.minimum is not None:
            schema["minimum"] = extra.minimum
        fields[extra.name] = {"label": extra.label, "description": extra.description, "schema": schema}
    return fields


def connection_form_widgets() -> dict[str, Any]:
    """The extra fields as Flask-AppBuilder widgets, for Airflow versions that read the hook's classmethod."""
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
    from flask_babel import lazy_gettext
    from wtforms import IntegerField, StringField
    from wtforms.validators import NumberRange, Optional

    widgets: dict[str, Any] = {}
    for extra in EXTRA_FIELDS:
        validators: list[Any] = [Optional()]
        if extra.minimum is not None:
            validators.append(NumberRange(min=extra.minimum))
        field_cls = IntegerField if extra.type == "integer" else StringField
        if extra.type == "number":
            field_cls = StringField  # FAB's DecimalField renders poorly; validated when the hook reads it
            validators = [Optional()]
        widgets[extra.name] = field_cls(
            lazy_gettext(extra.label),
            widget=BS3TextFieldWidget(),
            description=extra.description,
            validators=validators,
            default=extra.default,
        )
    return widgets
