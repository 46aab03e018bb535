"""Shared fixtures: the Sixtyfour emulator, an Airflow home for real ``airflow`` CLI runs, and moto S3.

The helpers they use (and tests import) live in the ``helpers`` package (``tests/helpers/``).

Every server a fixture starts listens on 127.0.0.1 on a free port and is stopped by the fixture.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.airflow_cli import AirflowCli, airflow_base_env
from helpers.connections import HOSTILE_CONN_ID, sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY
from helpers.net import free_port
from helpers.s3 import MotoS3, forget_object_stores
from helpers.webhooks import WebhookSink

# The secret audit (tests/secret_audit.py) watches every test of the suite for a leaked key or signed URL.
pytest_plugins = ["secret_audit", "compat"]

# --------------------------------------------------------------------------------------------------
# The Sixtyfour emulator
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def emulator() -> Iterator[object]:
    """A fresh in-process emulator on a free 127.0.0.1 port, accepting ``TEST_API_KEY``."""
    from airflow_provider_sixtyfour.emulator import EmulatorServer

    server = EmulatorServer(api_keys=[TEST_API_KEY], host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sixtyfour_conn(emulator: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points the ``sixtyfour_default`` connection at the emulator; returns the conn id."""
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(emulator.base_url))  # type: ignore[attr-defined]
    return "sixtyfour_default"


# --------------------------------------------------------------------------------------------------
# Real Airflow: a throwaway AIRFLOW_HOME with a migrated SQLite database, and the airflow CLI
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def airflow_template_home(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """One migrated Airflow home for the whole pytest run, shared by its xdist workers.

    ``airflow db migrate`` costs 10 to 25 CPU seconds: the first worker to need it migrates under a lock
    in the run's shared temporary folder, the others wait for it and use the same template (each test
    copies it, so no test writes to it).
    """
    import fcntl

    shared = tmp_path_factory.getbasetemp() if worker_id == "master" else tmp_path_factory.getbasetemp().parent
    home = shared / "airflow-template-home"
    with open(shared / "airflow-template-home.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / "migrated").exists():
            shutil.rmtree(home, ignore_errors=True)
            home.mkdir()
            proc = subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=airflow_base_env(home),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=300,
                check=False,
            )
            if proc.returncode != 0:
                raise RuntimeError(f"airflow db migrate failed:\n{proc.stdout[-4000:]}")
            (home / "migrated").touch()
    return home


@pytest.fixture
def airflow_cli(airflow_template_home: Path, tmp_path: Path) -> AirflowCli:
    """A private copy of the migrated Airflow home, with an empty DAGs folder, for one test."""
    home = tmp_path / "airflow-home"
    shutil.copytree(airflow_template_home, home)
    dags = tmp_path / "dags"
    dags.mkdir()
    return AirflowCli(home=home, dags_folder=dags, base_env=airflow_base_env(home))


# --------------------------------------------------------------------------------------------------
# S3 through a moto server
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    """A moto S3 server for one test; ``AIRFLOW_CONN_AWS_MOTO`` points at it."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    moto = MotoS3(endpoint_url=f"http://127.0.0.1:{port}")
    monkeypatch.setenv(f"AIRFLOW_CONN_{moto.conn_id.upper()}", moto.connection_json())
    # Airflow caches an object store per connection id in the process: one made for an earlier test's
    # moto server (another port) would be reused for this one's.
    forget_object_stores()
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield moto
    finally:
        server.stop()
        forget_object_stores()


# --------------------------------------------------------------------------------------------------
# A webhook sink: a real local HTTP server that records deliveries and answers as a test scripts it
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def webhook_sink() -> Iterator[WebhookSink]:
    """A :class:`WebhookSink` on a free 127.0.0.1 port, stopped after the test."""
    sink = WebhookSink()
    try:
        yield sink
    finally:
        sink.close()


# --------------------------------------------------------------------------------------------------
# The hostile server (tests/hostile.py): a correct little API until a test breaks a route
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[Any]:
    """One hostile server per test module (and xdist worker); :func:`hostile_api` resets it per test."""
    from hostile import HostileServer

    with HostileServer() as server:
        yield server


@pytest.fixture
def hostile_api(hostile_server: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The hostile server, reset to a correct API with a completed run; connection ``sixtyfour_hostile``.

    One retry with a short backoff and a 3 s timeout, so a broken route fails fast.
    """
    hostile_server.reset()
    uri = sixtyfour_connection_uri_json(hostile_server.url, max_retries=1, backoff_base=0.01, timeout=3)
    monkeypatch.setenv(f"AIRFLOW_CONN_{HOSTILE_CONN_ID.upper()}", uri)
    return hostile_server


# --------------------------------------------------------------------------------------------------
# Hostile HTTP servers (tests/hostile_wire.py): redirects, drips, huge or undecodable answers, echoed keys
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def wire_server() -> Iterator[Any]:
    """Start :class:`hostile_wire.HostileServer` instances: ``wire_server(answer(302, ...), ...)``; each is
    stopped after the test."""
    from hostile_wire import HostileServer

    started: list[HostileServer] = []

    def start(*behaviours: Any) -> HostileServer:
        server = HostileServer(*behaviours)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
