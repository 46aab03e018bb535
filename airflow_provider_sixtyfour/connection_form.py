"""The ``sixtyfour`` connection type's form, defined once.

Both ``get_provider_info()`` (``ui-field-behaviour`` and ``conn-fields``, read by Airflow 3.2+) and
the hook's classmethods (``get_ui_field_behaviour``/``get_connection_form_widgets``, read by older
Airflow) are generated from the definitions below, so the two can never drift; so are the reading
and validation of each extra and its typed accessor (``settings.extras[TIMEOUT]`` is a ``float``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from airflow_provider_sixtyfour.protocol.endpoints import DEFAULT_BASE_URL

CONN_TYPE = "sixtyfour"
DEFAULT_CONN_ID = "sixtyfour_default"
HOOK_NAME = "Sixtyfour"
APP_BASE_URL = "https://app.sixtyfour.ai"


T = TypeVar("T")


@dataclass(frozen=True)
class ExtraField(Generic[T]):
    """One setting stored in the connection's ``extra`` JSON, read as a ``T``.

    Build one with :func:`number_extra`, :func:`integer_extra` or :func:`text_extra` (they keep ``type``
    and ``T`` in step) and list it in :data:`EXTRA_FIELDS`: the form, provider info, the validation and
    the typed accessor (``settings.extras[FIELD]``, see
    :class:`~airflow_provider_sixtyfour.hooks.settings.ConnectionExtras`) all follow from that.

    :param url: a text that must be an http(s) URL; a trailing ``/`` is dropped.
    """

    name: str
    label: str
    description: str
    type: str  # "number", "integer" or "string"
    default: T
    minimum: float | None = None
    url: bool = False


def number_extra(
    name: str, label: str, description: str, default: float, *, minimum: float | None = None
) -> ExtraField[float]:
    """An extra read as a ``float`` (``minimum`` included)."""
    return ExtraField(name, label, description, "number", float(default), minimum)


def integer_extra(
    name: str, label: str, description: str, default: int, *, minimum: float | None = None
) -> ExtraField[int]:
    """An extra read as an ``int`` (a whole number; ``minimum`` included)."""
    return ExtraField(name, label, description, "integer", default, minimum)


def text_extra(name: str, label: str, description: str, default: str, *, url: bool = False) -> ExtraField[str]:
    """An extra read as a ``str`` (stripped); with ``url``, an http(s) URL without a trailing ``/``."""
    return ExtraField(name, label, description, "string", default, url=url)


TIMEOUT = number_extra(
    "timeout",
    "Request timeout (seconds)",
    "Seconds to wait for each API answer before the request counts as failed and is retried.",
    30.0,
    minimum=1,
)
MAX_RETRIES = integer_extra(
    "max_retries",
    "Retries per request",
    "How many times a request is retried on 429, 5xx or a lost connection (0 disables retries).",
    5,
    minimum=0,
)
BACKOFF_BASE = number_extra(
    "backoff_base",
    "First retry wait (seconds)",
    "Seconds before the first retry; each further retry waits about twice as long (with jitter).",
    1.0,
    minimum=0,
)
APP_URL = text_extra(
    "app_url",
    "Sixtyfour app URL",
    "Base URL of the Sixtyfour web app, used for the 'Sixtyfour run' link on task instances.",
    APP_BASE_URL,
    url=True,
)

#: Every extra, in form order. A new extra is one definition above plus its entry here (and a line in
#: the README's connection table, which a test checks).
EXTRA_FIELDS: tuple[ExtraField[Any], ...] = (TIMEOUT, MAX_RETRIES, BACKOFF_BASE, APP_URL)

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
