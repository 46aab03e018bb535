"""Provider registration and the ``sixtyfour`` connection form, checked against Airflow itself.

The form is defined once in ``connection_form``: provider info (Airflow 3.2+) and the hook's
classmethods (older Airflow) must both come from it, and the real ``airflow`` CLI must see them.
"""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import airflow
import pytest

from airflow_provider_sixtyfour import __version__, connection_form, get_provider_info
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

HOOK_PATH = "airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook"


def _connection_type() -> dict[str, Any]:
    (entry,) = [c for c in get_provider_info()["connection-types"] if c["connection-type"] == "sixtyfour"]
    return entry


def test_provider_info_validates_against_airflows_schema() -> None:
    import jsonschema

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_provider_info_content() -> None:
    info = get_provider_info()
    assert info["package-name"] == "airflow-provider-sixtyfour"
    assert info["name"] == "Sixtyfour"
    assert info["description"]
    assert info["versions"] == [__version__]
    entry = _connection_type()
    assert entry["hook-class-name"] == HOOK_PATH
    assert entry["hook-name"] == SixtyfourHook.hook_name


def test_entry_point_returns_provider_info() -> None:
    (ep,) = [
        ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith("airflow_provider_sixtyfour")
    ]
    assert ep.load()() == get_provider_info()


def test_ui_field_behaviour_in_provider_info_uses_the_keys_airflow_reads() -> None:
    behaviour = _connection_type()["ui-field-behaviour"]
    assert behaviour == {
        "hidden-fields": connection_form.HIDDEN_FIELDS,
        "relabeling": connection_form.RELABELING,
        "placeholders": connection_form.PLACEHOLDERS,
    }
    assert behaviour["relabeling"]["password"] == "API key"


def test_hook_ui_field_behaviour_comes_from_the_same_definition() -> None:
    hook_behaviour = SixtyfourHook.get_ui_field_behaviour()
    assert hook_behaviour == {
        "hidden_fields": connection_form.HIDDEN_FIELDS,
        "relabeling": connection_form.RELABELING,
        "placeholders": connection_form.PLACEHOLDERS,
    }
    converted = {k.replace("_", "-"): v for k, v in hook_behaviour.items()}
    assert converted == _connection_type()["ui-field-behaviour"]


def test_conn_fields_match_the_extra_fields() -> None:
    fields = _connection_type()["conn-fields"]
    assert list(fields) == [f.name for f in connection_form.EXTRA_FIELDS]
    for spec in connection_form.EXTRA_FIELDS:
        field = fields[spec.name]
        assert field["label"] == spec.label
        assert field["description"] == spec.description
        assert field["schema"]["default"] == spec.default
        assert spec.type in field["schema"]["type"]


def test_hook_identity() -> None:
    assert SixtyfourHook.conn_type == "sixtyfour"
    assert SixtyfourHook.conn_name_attr == "sixtyfour_conn_id"
    assert SixtyfourHook.default_conn_name == connection_form.DEFAULT_CONN_ID == "sixtyfour_default"
    assert SixtyfourHook.hook_name == "Sixtyfour"


def test_connection_form_widgets_come_from_the_extra_fields() -> None:
    pytest.importorskip("flask_appbuilder", reason="the FAB widgets exist only where Airflow's FAB UI is installed")
    widgets = SixtyfourHook.get_connection_form_widgets()
    assert list(widgets) == [f.name for f in connection_form.EXTRA_FIELDS]
    for spec in connection_form.EXTRA_FIELDS:
        assert str(widgets[spec.name].args[0]) == spec.label
        assert widgets[spec.name].kwargs["default"] == spec.default


def test_airflow_cli_lists_the_provider_and_its_hook(airflow_cli: Any) -> None:
    providers = airflow_cli.run("providers", "list", "-o", "json", check=True)
    listed = airflow_cli.json_output(providers.stdout)
    ours = [p for p in listed if p["package_name"] == "airflow-provider-sixtyfour"]
    assert ours, providers.stdout[-2000:]
    assert ours[0]["version"] == __version__

    hooks = airflow_cli.run("providers", "hooks", "-o", "json", check=True)
    hook_rows = airflow_cli.json_output(hooks.stdout)
    (row,) = [h for h in hook_rows if h.get("connection_type") == "sixtyfour"]
    assert row["class"] == HOOK_PATH
    assert row["package_name"] == "airflow-provider-sixtyfour"
    assert row["conn_id_attribute_name"] == "sixtyfour_conn_id"


def test_airflow_connections_know_the_sixtyfour_type(airflow_cli: Any, emulator: Any) -> None:
    from helpers.keys import TEST_API_KEY

    added = airflow_cli.run(
        "connections",
        "add",
        "sixtyfour_cli",
        "--conn-type",
        "sixtyfour",
        "--conn-host",
        emulator.base_url,
        "--conn-password",
        TEST_API_KEY,
        "--conn-extra",
        json.dumps({"max_retries": 0}),
        check=True,
    )
    assert "sixtyfour_cli" in added.stdout
    enabled = {"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"}
    tested = airflow_cli.run("connections", "test", "sixtyfour_cli", extra_env=enabled)
    assert tested.returncode == 0, tested.stdout[-3000:]
    assert "Connection success!" in tested.stdout
    assert TEST_API_KEY not in tested.stdout

    airflow_cli.run(
        "connections",
        "add",
        "sixtyfour_badkey",
        "--conn-type",
        "sixtyfour",
        "--conn-host",
        emulator.base_url,
        "--conn-password",
        "sk-wrong-key-0000000000",
        check=True,
    )
    failed = airflow_cli.run("connections", "test", "sixtyfour_badkey", extra_env=enabled)
    assert "Connection failed!" in failed.stdout
    # Airflow 2.11 to 3.2's CLI exits 0 even on failure (seen on 2.11, 3.0.6 and 3.2.2).
    if tuple(int(part) for part in airflow.__version__.split(".")[:2]) >= (3, 3):
        assert failed.returncode != 0
    assert "HTTP 401" in failed.stdout
    assert "GET /workflows" in failed.stdout
    assert "sk-wrong-key-0000000000" not in failed.stdout
