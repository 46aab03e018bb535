"""Reading a ``sixtyfour`` connection through Airflow's real connection lookup (``AIRFLOW_CONN_*`` variables)."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest

from airflow_provider_sixtyfour.connection_form import APP_URL, BACKOFF_BASE, EXTRA_FIELDS, MAX_RETRIES, TIMEOUT
from airflow_provider_sixtyfour.hooks.settings import (
    RUN_URL_TEMPLATE,
    ConnectionExtras,
    ConnectionSettings,
    aload_settings,
    load_settings,
    user_agent,
)
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy

KEY = "sk-settings-test-0123456789-SECRET"
CONN = "sixtyfour_settings_test"


def set_conn(monkeypatch: pytest.MonkeyPatch, value: dict[str, object] | str, conn_id: str = CONN) -> str:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value if isinstance(value, str) else json.dumps(value))
    return conn_id


def conn(**fields: object) -> dict[str, object]:
    return {"conn_type": "sixtyfour", "password": KEY, **fields}


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(set_conn(monkeypatch, conn()))
    assert settings.conn_id == CONN
    assert settings.base_url == "https://api.sixtyfour.ai"
    assert settings.api_key == KEY
    assert settings.timeout == 30.0
    assert settings.retry == RetryPolicy(max_attempts=6, backoff_base=1.0)
    assert settings.app_url == "https://app.sixtyfour.ai"


def test_key_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(set_conn(monkeypatch, conn()))
    assert KEY not in repr(settings)
    assert KEY not in str(settings)
    assert "base_url='https://api.sixtyfour.ai'" in repr(settings)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("http://127.0.0.1:8064", None, "http://127.0.0.1:8064"),
        ("http://127.0.0.1:8064/", None, "http://127.0.0.1:8064"),
        ("https://proxy.example/sixtyfour/", None, "https://proxy.example/sixtyfour"),
        ("api.staging.example", None, "https://api.staging.example"),
        ("api.staging.example", 8443, "https://api.staging.example:8443"),
        ("http://127.0.0.1", 9000, "http://127.0.0.1:9000"),
        ("  ", None, "https://api.sixtyfour.ai"),
    ],
)
def test_host_overrides_base_url(monkeypatch: pytest.MonkeyPatch, host: str, port: int | None, expected: str) -> None:
    fields: dict[str, object] = {"host": host}
    if port:
        fields["port"] = port
    assert load_settings(set_conn(monkeypatch, conn(**fields))).base_url == expected


def test_uri_form(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, f"sixtyfour://:{KEY}@api.example.com:8443?timeout=12&max_retries=2")
    settings = load_settings(CONN)
    assert settings.base_url == "https://api.example.com:8443"
    assert settings.api_key == KEY
    assert settings.timeout == 12.0
    assert settings.retry.max_attempts == 3


@pytest.mark.parametrize(
    ("host", "problem"),
    [
        ("ftp://files.example", "scheme is 'ftp'"),
        ("https://user:hunter2pass@api.example", "contains credentials"),
        ("https://api.example/?x=1", "query string"),
        ("http://", "no host name"),
        ("http://api.example:notaport", "not a valid URL"),
    ],
)
def test_bad_hosts(monkeypatch: pytest.MonkeyPatch, host: str, problem: str) -> None:
    with pytest.raises(SixtyfourInputError, match=re.escape(problem)) as info:
        load_settings(set_conn(monkeypatch, conn(host=host)))
    assert CONN in str(info.value)
    assert "hunter2pass" not in str(info.value)


@pytest.mark.parametrize("password", [None, "", "   "])
def test_missing_key(monkeypatch: pytest.MonkeyPatch, password: str | None) -> None:
    with pytest.raises(SixtyfourInputError, match=f"connection '{CONN}' has no API key: put the key in its password"):
        load_settings(set_conn(monkeypatch, {"conn_type": "sixtyfour", "password": password}))


def test_missing_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SIXTYFOUR_NOWHERE", raising=False)
    with pytest.raises(SixtyfourInputError) as info:
        load_settings("sixtyfour_nowhere")
    message = str(info.value)
    assert "no connection 'sixtyfour_nowhere'" in message
    assert "AIRFLOW_CONN_SIXTYFOUR_NOWHERE=" in message
    assert "Admin > Connections" in message


def test_missing_connection_async(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SIXTYFOUR_NOWHERE", raising=False)
    with pytest.raises(SixtyfourInputError, match="AIRFLOW_CONN_SIXTYFOUR_NOWHERE"):
        asyncio.run(aload_settings("sixtyfour_nowhere"))


def test_async_load_matches_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    set_conn(monkeypatch, conn(host="http://127.0.0.1:1", extra={"timeout": 5, "max_retries": 0}))
    assert asyncio.run(aload_settings(CONN)) == load_settings(CONN)


def test_extras_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"timeout": "12.5", "max_retries": "2", "backoff_base": 0, "app_url": "https://app.example/"}
    settings = load_settings(set_conn(monkeypatch, conn(extra=extra)))
    assert settings.timeout == 12.5
    assert settings.retry.max_attempts == 3
    assert settings.retry.backoff_base == 0.0
    assert settings.app_url == "https://app.example"


def test_empty_extras_mean_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"timeout": "", "max_retries": None, "backoff_base": " ", "app_url": ""}
    settings = load_settings(set_conn(monkeypatch, conn(extra=extra)))
    assert settings.timeout == 30.0
    assert settings.retry.max_attempts == 6
    assert settings.app_url == "https://app.sixtyfour.ai"


def test_prefixed_form_extras_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(set_conn(monkeypatch, conn(extra={"extra__sixtyfour__timeout": 7})))
    assert settings.timeout == 7.0


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"timeout": "soon"}, "extra 'timeout' (Request timeout (seconds)) must be a number of at least 1, got 'soon'"),
        ({"timeout": 0}, "extra 'timeout'"),
        ({"timeout": True}, "extra 'timeout'"),
        ({"timeout": float("inf")}, "extra 'timeout'"),
        ({"max_retries": -1}, "extra 'max_retries' (Retries per request) must be a whole number of at least 0"),
        ({"max_retries": 2.5}, "extra 'max_retries'"),
        ({"backoff_base": [1]}, "extra 'backoff_base'"),
        ({"app_url": 3}, "extra 'app_url'"),
        ({"app_url": "app.example"}, "extra 'app_url'"),
    ],
)
def test_bad_extras(monkeypatch: pytest.MonkeyPatch, extra: dict[str, object], problem: str) -> None:
    with pytest.raises(SixtyfourInputError, match=re.escape(problem)) as info:
        load_settings(set_conn(monkeypatch, conn(extra=extra)))
    assert CONN in str(info.value)
    assert "Extra JSON" in str(info.value)


def test_extra_not_an_object(monkeypatch: pytest.MonkeyPatch) -> None:
    # Airflow 3.2+ hands the connection over and the provider names the problem; 3.0 and 3.1 refuse to
    # read it at all, and the provider says the variable is set but unreadable, not that it is missing.
    ours = r"Extra field of Sixtyfour connection .* is not a JSON object"
    airflows = r"could not read connection 'sixtyfour_settings_test' from .* the Extra field must be a JSON object"
    with pytest.raises(SixtyfourInputError, match=f"{ours}|{airflows}") as info:
        load_settings(set_conn(monkeypatch, conn(extra="[1, 2]")))
    assert KEY not in str(info.value)


def test_a_missing_connection_says_how_to_create_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SIXTYFOUR_NOWHERE", raising=False)
    with pytest.raises(SixtyfourInputError, match=r"Airflow has no connection 'sixtyfour_nowhere'.*AIRFLOW_CONN_"):
        load_settings("sixtyfour_nowhere")


def test_unknown_extras_are_warned_about(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    load_settings(set_conn(monkeypatch, conn(extra={"max_retry": 3})))
    assert "extras this provider does not use: max_retry" in caplog.text


def test_key_is_registered_with_the_secrets_masker(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.common.compat.sdk import redact

    key = "sk-masker-check-9876543210-SECRET"
    load_settings(set_conn(monkeypatch, {"conn_type": "sixtyfour", "password": key}))
    assert key not in str(redact(f"header x-api-key: {key}"))


def test_key_is_registered_with_the_secrets_masker_async(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.common.compat.sdk import redact

    key = "sk-async-masker-check-24680-SECRET"
    asyncio.run(aload_settings(set_conn(monkeypatch, {"conn_type": "sixtyfour", "password": key})))
    assert key not in str(redact(f"header x-api-key: {key}"))


def test_run_url() -> None:
    settings = ConnectionSettings(conn_id="c", base_url="https://api", api_key=KEY, app_url="https://app.example")
    assert settings.run_url("3f2b9c1e-8a4d") == "https://app.example/workflows/runs/3f2b9c1e-8a4d"
    assert settings.run_url("a/b") == "https://app.example/workflows/runs/a%2Fb"
    assert "{app_url}" in RUN_URL_TEMPLATE


def test_user_agent_names_provider_airflow_and_python() -> None:
    from importlib.metadata import version

    from airflow_provider_sixtyfour import __version__

    agent = user_agent()
    assert agent.startswith(
        f"airflow-provider-sixtyfour/{__version__} apache-airflow/{version('apache-airflow')} python/"
    )


def test_provider_masking_helpers_work_on_this_airflow() -> None:
    """Airflow masks a connection's password on lookup too; this checks the provider's own registration."""
    from airflow.providers.common.compat.sdk import redact

    from airflow_provider_sixtyfour.hooks.masking import amask, mask

    sync_secret = "sk-direct-sync-mask-13579-SECRET"
    async_secret = "sk-direct-async-mask-97531-SECRET"
    mask(sync_secret)
    asyncio.run(amask(async_secret))
    assert sync_secret not in str(redact(f"a {sync_secret} b"))
    assert async_secret not in str(redact(f"a {async_secret} b"))


def test_extras_are_read_by_field_with_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = {"timeout": "12.5", "max_retries": "2", "app_url": " https://app.example/ "}
    extras = load_settings(set_conn(monkeypatch, conn(extra=extra))).extras
    assert (extras[TIMEOUT], extras[MAX_RETRIES], extras[BACKOFF_BASE], extras[APP_URL]) == (
        12.5,
        2,
        1.0,
        "https://app.example",
    )
    assert type(extras[MAX_RETRIES]) is int
    assert type(extras[TIMEOUT]) is float


def test_connection_extras_default_to_each_fields_default() -> None:
    extras = ConnectionExtras()
    assert [extras[spec] for spec in EXTRA_FIELDS] == [spec.default for spec in EXTRA_FIELDS]
    assert ConnectionExtras({"timeout": 9.0})[TIMEOUT] == 9.0
    assert ConnectionExtras({"timeout": 9.0}) == ConnectionExtras({"timeout": 9.0}) != ConnectionExtras()
    assert hash(ConnectionExtras()) == hash(ConnectionExtras())
    assert "'timeout': 30.0" in repr(ConnectionExtras())
    with pytest.raises(ValueError, match="not extras of a Sixtyfour connection: max_retry"):
        ConnectionExtras({"max_retry": 3})


def test_connection_extras_read_validates_each_field() -> None:
    assert ConnectionExtras.read(None, CONN) == ConnectionExtras()
    assert ConnectionExtras.read('{"extra__sixtyfour__max_retries": 0}', CONN)[MAX_RETRIES] == 0
    with pytest.raises(SixtyfourInputError, match=r"extra 'app_url' \(Sixtyfour app URL\) must be an http\(s\) URL"):
        ConnectionExtras.read({"app_url": "ftp://app.example/"}, CONN)


def test_settings_built_directly_have_default_extras_and_hide_them_from_repr() -> None:
    settings = ConnectionSettings("c", "https://api", KEY, timeout=2)
    assert settings.extras == ConnectionExtras()
    assert "extras" not in repr(settings)


def test_a_new_extra_needs_only_its_definition(monkeypatch: pytest.MonkeyPatch) -> None:
    """Declaring a field in EXTRA_FIELDS is enough for it to be validated and read, typed, from the settings."""
    from airflow_provider_sixtyfour import connection_form
    from airflow_provider_sixtyfour.hooks import settings as settings_module

    page_size = connection_form.integer_extra("page_size", "Page size", "Runs per listing.", 100, minimum=1)
    fields = (*EXTRA_FIELDS, page_size)
    monkeypatch.setattr(connection_form, "EXTRA_FIELDS", fields)
    monkeypatch.setattr(settings_module, "EXTRA_FIELDS", fields)
    assert "page_size" in connection_form.conn_fields()
    assert load_settings(set_conn(monkeypatch, conn(extra={"page_size": "250"}))).extras[page_size] == 250
    assert load_settings(set_conn(monkeypatch, conn())).extras[page_size] == 100
    with pytest.raises(
        SixtyfourInputError, match=r"extra 'page_size' \(Page size\) must be a whole number of at least 1"
    ):
        load_settings(set_conn(monkeypatch, conn(extra={"page_size": 0})))
