"""The ``sixtyfour`` connection form's output, pinned: what Airflow's UI shows must not change by accident.

``test_provider_info.py`` checks that provider info and the hook's classmethods come from one
definition; these tests pin what that definition produces, field by field, on any Airflow (the
Flask-AppBuilder widgets are built against stand-in modules when FAB is not installed).
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest

from airflow_provider_sixtyfour import connection_form
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

CONN_FIELDS = {
    "timeout": {
        "label": "Request timeout (seconds)",
        "description": "Seconds to wait for each API answer before the request counts as failed and is retried.",
        "schema": {"type": ["number", "null"], "default": 30.0, "minimum": 1},
    },
    "max_retries": {
        "label": "Retries per request",
        "description": "How many times a request is retried on 429, 5xx or a lost connection (0 disables retries).",
        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 0},
    },
    "backoff_base": {
        "label": "First retry wait (seconds)",
        "description": "Seconds before the first retry; each further retry waits about twice as long (with jitter).",
        "schema": {"type": ["number", "null"], "default": 1.0, "minimum": 0},
    },
    "app_url": {
        "label": "Sixtyfour app URL",
        "description": "Base URL of the Sixtyfour web app, used for the 'Sixtyfour run' link on task instances.",
        "schema": {"type": ["string", "null"], "default": "https://app.sixtyfour.ai"},
    },
}

UI_FIELD_BEHAVIOUR = {
    "hidden_fields": ["schema", "port", "login"],
    "relabeling": {"password": "API key", "host": "API base URL (leave empty for Sixtyfour)"},
    "placeholders": {"password": "your Sixtyfour API key", "host": "https://api.sixtyfour.ai"},
}


def test_conn_fields_output_is_unchanged() -> None:
    fields = connection_form.conn_fields()
    assert fields == CONN_FIELDS
    assert list(fields) == list(CONN_FIELDS)
    assert [type(f["schema"]["default"]) for f in fields.values()] == [float, int, float, str]


def test_field_builders_keep_the_type_and_the_default_in_step() -> None:
    number = connection_form.number_extra("n", "N", "an n", 2, minimum=1)
    assert (number.type, number.default, type(number.default), number.minimum) == ("number", 2.0, float, 1)
    integer = connection_form.integer_extra("i", "I", "an i", 3, minimum=0)
    assert (integer.type, integer.default, integer.minimum, integer.url) == ("integer", 3, 0, False)
    text = connection_form.text_extra("t", "T", "a t", "https://x.example", url=True)
    assert (text.type, text.default, text.minimum, text.url) == ("string", "https://x.example", None, True)
    assert connection_form.EXTRA_FIELDS == (
        connection_form.TIMEOUT,
        connection_form.MAX_RETRIES,
        connection_form.BACKOFF_BASE,
        connection_form.APP_URL,
    )


def test_ui_field_behaviour_output_is_unchanged() -> None:
    assert SixtyfourHook.get_ui_field_behaviour() == UI_FIELD_BEHAVIOUR
    assert connection_form.ui_field_behaviour() == {
        key.replace("_", "-"): value for key, value in UI_FIELD_BEHAVIOUR.items()
    }


@dataclass
class _Made:
    """What a stand-in form class or validator was built with."""

    kind: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


def _maker(kind: str) -> Any:
    def make(*args: Any, **kwargs: Any) -> _Made:
        return _Made(kind, args, kwargs)

    return make


@pytest.fixture
def stand_in_fab(monkeypatch: pytest.MonkeyPatch) -> None:
    """Modules shaped like flask_appbuilder, flask_babel and wtforms, recording what the form builds."""
    modules = {
        "flask_appbuilder": {},
        "flask_appbuilder.fieldwidgets": {"BS3TextFieldWidget": _maker("BS3TextFieldWidget")},
        "flask_babel": {"lazy_gettext": lambda text: f"lazy:{text}"},
        "wtforms": {"IntegerField": _maker("IntegerField"), "StringField": _maker("StringField")},
        "wtforms.validators": {"NumberRange": _maker("NumberRange"), "Optional": _maker("Optional")},
    }
    for name, attrs in modules.items():
        module = types.ModuleType(name)
        for key, value in attrs.items():
            setattr(module, key, value)
        monkeypatch.setitem(sys.modules, name, module)


@pytest.mark.usefixtures("stand_in_fab")
def test_connection_form_widgets_output_is_unchanged() -> None:
    widgets = SixtyfourHook.get_connection_form_widgets()
    assert list(widgets) == list(CONN_FIELDS)
    expected = {
        "timeout": ("StringField", 30.0, [_Made("Optional", ())]),
        "max_retries": ("IntegerField", 5, [_Made("Optional", ()), _Made("NumberRange", (), {"min": 0})]),
        "backoff_base": ("StringField", 1.0, [_Made("Optional", ())]),
        "app_url": ("StringField", "https://app.sixtyfour.ai", [_Made("Optional", ())]),
    }
    for name, (kind, default, validators) in expected.items():
        made = widgets[name]
        assert made.kind == kind
        assert made.args == (f"lazy:{CONN_FIELDS[name]['label']}",)
        assert made.kwargs == {
            "widget": _Made("BS3TextFieldWidget", ()),
            "description": CONN_FIELDS[name]["description"],
            "validators": validators,
            "default": default,
        }
