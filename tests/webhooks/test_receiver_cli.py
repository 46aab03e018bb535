"""``sixtyfour-webhook-receiver`` as a real process: help, refused settings, serving and a clean stop."""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import tomllib
from helpers.keys import WEBHOOK_SECRET
from helpers.net import free_port

from airflow_provider_sixtyfour.webhooks.receiver import ENV_VARS

MODULE = "airflow_provider_sixtyfour.webhooks.receiver"
ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIXTYFOUR_RECEIVER_")}
    env.update(extra)
    return env


def test_the_console_script_is_declared_and_importable() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, func = scripts["sixtyfour-webhook-receiver"].partition(":")
    assert callable(getattr(importlib.import_module(module), func))


def test_help_lists_every_environment_variable() -> None:
    proc = subprocess.run([sys.executable, "-m", MODULE, "--help"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    for name in ENV_VARS:
        assert name in proc.stdout


def test_missing_settings_exit_2_naming_the_variable() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", MODULE],
        env=_env(SIXTYFOUR_RECEIVER_AIRFLOW_URL="http://127.0.0.1:1"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "SIXTYFOUR_RECEIVER_SIGNING_SECRETS" in proc.stderr


def test_it_serves_health_and_stops_on_sigterm_without_logging_secrets(tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        SIXTYFOUR_RECEIVER_SIGNING_SECRETS=WEBHOOK_SECRET,
        SIXTYFOUR_RECEIVER_AIRFLOW_URL="http://127.0.0.1:1",
        SIXTYFOUR_RECEIVER_AIRFLOW_TOKEN="jwt-never-logged-0123456789",
        SIXTYFOUR_RECEIVER_PORT=str(port),
        SIXTYFOUR_RECEIVER_STORE=str(tmp_path / "store.sqlite3"),
    )
    log_path = tmp_path / "receiver.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", MODULE], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        health = None
        deadline = time.monotonic() + 60
        while health is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
                    health = (answer.status, json.loads(answer.read()))
            except OSError:
                time.sleep(0.2)
        assert health == (200, {"status": "ok"}), log_path.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("event") == "started" and line["port"] == port for line in lines)
    text = log_path.read_text()
    assert WEBHOOK_SECRET not in text
    assert "jwt-never-logged" not in text
    assert (tmp_path / "store.sqlite3").exists()
