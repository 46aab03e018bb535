"""The receiver's settings from the environment: every variable read, every mistake named."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.keys import WEBHOOK_OLD_SECRET, WEBHOOK_SECRET

from airflow_provider_sixtyfour.webhooks.receiver import ENV_VARS, ReceiverSettings, SettingsError

BASE = {
    "SIXTYFOUR_RECEIVER_SIGNING_SECRETS": f"{WEBHOOK_SECRET}, {WEBHOOK_OLD_SECRET}",
    "SIXTYFOUR_RECEIVER_AIRFLOW_URL": "https://airflow.example.com/",
    "SIXTYFOUR_RECEIVER_AIRFLOW_USERNAME": "receiver",
    "SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD": "airflow-password-0123456789",
}


def test_defaults_and_parsing() -> None:
    settings = ReceiverSettings.from_env({**BASE, "PATH": "/usr/bin"})
    assert settings.secrets == (WEBHOOK_SECRET, WEBHOOK_OLD_SECRET)
    assert settings.airflow_url == "https://airflow.example.com"
    assert (settings.host, settings.port, settings.path) == ("127.0.0.1", 8065, "/sixtyfour/webhook")
    assert settings.statuses == frozenset({"completed"})
    assert settings.tolerance == 300
    assert 0 < settings.deadline < 10
    assert not settings.allow_unsigned
    text = repr(settings)
    assert WEBHOOK_SECRET not in text
    assert "airflow-password" not in text


def test_every_variable_is_read(tmp_path: Path) -> None:
    secrets_file = tmp_path / "secrets"
    secrets_file.write_text(f"{WEBHOOK_SECRET}\n{WEBHOOK_OLD_SECRET}\n")
    password_file = tmp_path / "password"
    password_file.write_text("airflow-password-0123456789\n")
    env = {
        "SIXTYFOUR_RECEIVER_SIGNING_SECRETS_FILE": str(secrets_file),
        "SIXTYFOUR_RECEIVER_ALLOW_UNSIGNED": "false",
        "SIXTYFOUR_RECEIVER_TOLERANCE_SECONDS": "120",
        "SIXTYFOUR_RECEIVER_AIRFLOW_URL": "http://airflow:8080",
        "SIXTYFOUR_RECEIVER_AIRFLOW_USERNAME": "receiver",
        "SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD_FILE": str(password_file),
        "SIXTYFOUR_RECEIVER_AIRFLOW_TOKEN": "",
        "SIXTYFOUR_RECEIVER_STATUSES": "completed,canceled",
        "SIXTYFOUR_RECEIVER_HOST": "0.0.0.0",
        "SIXTYFOUR_RECEIVER_PORT": "9000",
        "SIXTYFOUR_RECEIVER_PATH": "/hooks/64",
        "SIXTYFOUR_RECEIVER_STORE": str(tmp_path / "store.sqlite3"),
        "SIXTYFOUR_RECEIVER_DEADLINE_SECONDS": "5",
        "SIXTYFOUR_RECEIVER_LOG_LEVEL": "debug",
    }
    assert set(env) | {"SIXTYFOUR_RECEIVER_SIGNING_SECRETS", "SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD"} == set(ENV_VARS)
    settings = ReceiverSettings.from_env(env)
    assert settings.secrets == (WEBHOOK_SECRET, WEBHOOK_OLD_SECRET)
    assert settings.airflow_password == "airflow-password-0123456789"
    assert settings.statuses == frozenset({"completed", "cancelled"})
    assert (settings.host, settings.port, settings.path, settings.deadline) == ("0.0.0.0", 9000, "/hooks/64", 5.0)
    assert (settings.tolerance, settings.log_level) == (120.0, "DEBUG")
    assert settings.store_path == tmp_path / "store.sqlite3"


def test_a_token_replaces_username_and_password() -> None:
    env = {k: v for k, v in BASE.items() if "USERNAME" not in k and "PASSWORD" not in k}
    settings = ReceiverSettings.from_env({**env, "SIXTYFOUR_RECEIVER_AIRFLOW_TOKEN": "jwt-abcdefghijklmnop"})
    assert settings.airflow_token == "jwt-abcdefghijklmnop"


def test_unsigned_needs_the_explicit_opt_in() -> None:
    env = {k: v for k, v in BASE.items() if "SECRETS" not in k}
    with pytest.raises(SettingsError, match="SIXTYFOUR_RECEIVER_ALLOW_UNSIGNED=true"):
        ReceiverSettings.from_env(env)
    assert ReceiverSettings.from_env({**env, "SIXTYFOUR_RECEIVER_ALLOW_UNSIGNED": "true"}).allow_unsigned


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"SIXTYFOUR_RECEIVER_AIRFLOW_URL": ""}, "AIRFLOW_URL"),
        ({"SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD": ""}, "no Airflow credentials"),
        ({"SIXTYFOUR_RECEIVER_DEADLINE_SECONDS": "10"}, "below the vendor's 10 s"),
        ({"SIXTYFOUR_RECEIVER_PORT": "eighty"}, "must be a number"),
        ({"SIXTYFOUR_RECEIVER_TOLERANCE_SECONDS": "nan"}, "TOLERANCE_SECONDS must be a finite number"),
        ({"SIXTYFOUR_RECEIVER_TOLERANCE_SECONDS": "inf"}, "TOLERANCE_SECONDS must be a finite number"),
        ({"SIXTYFOUR_RECEIVER_ALLOW_UNSIGNED": "maybe"}, "true or false"),
        ({"SIXTYFOUR_RECEIVER_STATUSES": "done"}, "STATUSES"),
        ({"SIXTYFOUR_RECEIVER_PATH": "hooks"}, "start with /"),
        ({"SIXTYFOUR_RECEIVER_SECRET": "x"}, "unknown setting"),
        ({"SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD_FILE": "/nonexistent/password"}, "not both"),
    ],
)
def test_mistakes_are_named(change: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError, match=says) as info:
        ReceiverSettings.from_env({**BASE, **change})
    assert WEBHOOK_SECRET not in str(info.value)


def test_an_unreadable_file_is_named() -> None:
    env = {k: v for k, v in BASE.items() if "SECRETS" not in k}
    with pytest.raises(SettingsError, match="cannot read SIXTYFOUR_RECEIVER_SIGNING_SECRETS_FILE"):
        ReceiverSettings.from_env({**env, "SIXTYFOUR_RECEIVER_SIGNING_SECRETS_FILE": "/nonexistent/secrets"})


def test_the_readme_documents_every_variable() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    start = readme.index("### Signed webhooks and the receiver")
    section = readme[start : readme.index("\n## ", start)]
    for name in ENV_VARS:
        assert f"`{name}`" in section, f"README's receiver section does not document {name}"
