"""``sixtyfour-emulator`` as a process: the ready line, the config file, clean stops, loopback only."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from helpers.net import free_port

from airflow_provider_sixtyfour.emulator import WorkflowSpec
from airflow_provider_sixtyfour.emulator.config import load_config

CLI_KEY = "cli-test-key-SECRET"


def _spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_sixtyfour.emulator", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def spawn() -> Iterator[object]:
    procs: list[subprocess.Popen[str]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], str]:
        proc = _spawn(*args)
        procs.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.fullmatch(r"Sixtyfour emulator listening on (http://\S+)\n", line)
        assert match, (line, proc.stderr.read() if proc.poll() is not None and proc.stderr else "")
        return proc, match.group(1)

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly_on_signals(spawn, sig: signal.Signals) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    proc, url = spawn("--host", "127.0.0.1", "--port", str(port), "--api-key", CLI_KEY, "--rate-limit", "50")
    assert url == f"http://127.0.0.1:{port}"
    answer = requests.get(url + "/workflows", headers={"x-api-key": CLI_KEY}, timeout=30)
    assert answer.status_code == 200
    assert answer.headers["X-RateLimit-Limit"] == "50"
    assert {w["id"] for w in answer.json()} >= {"wf-demo-webhook", "wf-demo-read-csv"}
    proc.send_signal(sig)
    assert proc.wait(timeout=30) == 0
    out, err = proc.communicate()
    assert CLI_KEY not in out + err
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/workflows", timeout=5)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of sockets in LISTEN state on ``port``, from /proc/net/tcp (Linux)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads Linux's socket table")
def test_listens_only_where_told(spawn) -> None:  # type: ignore[no-untyped-def]
    _, url = spawn("--port", "0", "--api-key", CLI_KEY)
    assert url.startswith("http://127.0.0.1:")
    assert _listening_addresses(int(url.rsplit(":", 1)[1])) == {"127.0.0.1"}


def test_config_file(tmp_path: Path, spawn) -> None:  # type: ignore[no-untyped-def]
    config = {
        "api_keys": {CLI_KEY: "org-cli"},
        "include_default_workflows": False,
        "workflows": [WorkflowSpec(workflow_id="wf-from-file", duration_seconds=0.2, rows_out=7).to_dict()],
        "faults": [{"route": "/workflows", "kind": "status", "status": 503, "count": 1}],
        "rate_limit_per_minute": None,
        "time_scale": 0.5,
    }
    path = tmp_path / "emulator.json"
    path.write_text(json.dumps(config))
    _, url = spawn("--port", "0", "--config", str(path))
    headers = {"x-api-key": CLI_KEY}
    assert requests.get(url + "/workflows", headers=headers, timeout=30).status_code == 503
    listed = requests.get(url + "/workflows", headers=headers, timeout=30)
    assert [w["id"] for w in listed.json()] == ["wf-from-file"]
    assert "X-RateLimit-Limit" not in listed.headers
    started = requests.post(url + "/workflows/run", params={"workflow_id": "wf-from-file"}, headers=headers, timeout=30)
    assert started.status_code == 200


def test_bad_config_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"workflows": [{"workflow_id": "wf-x", "colour": "red"}]}))
    with pytest.raises(ValueError, match="colour"):
        load_config(path)
    proc = _spawn("--port", "0", "--config", str(path))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "colour" in err
    assert out == ""


def test_port_in_use_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _spawn("--port", str(taken.getsockname()[1]))
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "sixtyfour-emulator:" in err
