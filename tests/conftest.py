"""Shared fixtures: the Sixtyfour emulator, an Airflow home for real ``airflow`` CLI runs, and moto S3.

Every server a fixture starts listens on 127.0.0.1 on a free port and is stopped by the fixture.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# The secret audit (tests/secret_audit.py) watches every test of the suite for a leaked key or signed URL.
pytest_plugins = ["secret_audit", "compat"]

TEST_API_KEY = "sk-test-0123456789abcdef-SECRET"
"""The API key the emulator accepts in tests; the secret audit looks for it in every output."""


async def first_event(trigger: Any, timeout: float) -> dict[str, Any]:
    """The payload of the first event a trigger yields; fails if it ends without one or takes ``timeout`` s."""

    async def consume() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise AssertionError("the trigger ended without an event")

    return await asyncio.wait_for(consume(), timeout)


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes (read in 1 MiB pieces), to compare with ``EmulatorServer.file_sha256``."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def sixtyfour_connection_uri_json(base_url: str, api_key: str = TEST_API_KEY, **extra: object) -> str:
    """The JSON form of a ``sixtyfour`` connection, for ``AIRFLOW_CONN_<ID>`` variables.

    Tests use short retry waits so that fault injection does not slow the suite.
    """
    extras: dict[str, object] = {"backoff_base": 0.05, "timeout": 10}
    extras.update(extra)
    return json.dumps({"conn_type": "sixtyfour", "host": base_url, "password": api_key, "extra": extras})


@pytest.fixture
def sixtyfour_conn(emulator: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """Points the ``sixtyfour_default`` connection at the emulator; returns the conn id."""
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(emulator.base_url))  # type: ignore[attr-defined]
    return "sixtyfour_default"


# --------------------------------------------------------------------------------------------------
# Real Airflow: a throwaway AIRFLOW_HOME with a migrated SQLite database, and the airflow CLI
# --------------------------------------------------------------------------------------------------


@dataclass
class AirflowCli:
    """Runs the real ``airflow`` CLI in a throwaway home, one DAGs folder per test."""

    home: Path
    dags_folder: Path
    base_env: dict[str, str] = field(default_factory=dict)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(self.base_env)
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(self.dags_folder)
        if extra:
            env.update(extra)
        return env

    def run(
        self, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 240, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS...``; stdout and stderr are captured together."""
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env(extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-6000:]}")
        return proc

    @staticmethod
    def json_output(stdout: str) -> Any:
        """The JSON document an ``airflow ... -o json`` command printed on its last ``[`` line.

        Log lines may come before it, and some of them start with ``[`` too (``[info     ] ...`` on 3.1).
        """
        (line,) = [line for line in stdout.splitlines() if line.startswith("[")][-1:]
        return json.loads(line)

    def add_dag(self, name: str, source: str) -> Path:
        """Write a DAG file (dedented source) into this test's DAGs folder."""
        path = self.dags_folder / name
        path.write_text(textwrap.dedent(source))
        return path

    def dags_test(
        self, dag_id: str, *, extra_env: Mapping[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test DAG_ID``: runs the whole DAG in one process, triggers inline."""
        return self.run("dags", "test", dag_id, extra_env=extra_env, timeout=timeout)

    def all_logs(self) -> str:
        """Every task log file written under this home, concatenated (for secret audits)."""
        parts = []
        for path in sorted((self.home / "logs").rglob("*")):
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


def _airflow_base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor" if airflow_major() < 3 else "LocalExecutor",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def airflow_major() -> int:
    """The installed Airflow's major version (2 or 3)."""
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0])


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
                env=_airflow_base_env(home),
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
    return AirflowCli(home=home, dags_folder=dags, base_env=_airflow_base_env(home))


# --------------------------------------------------------------------------------------------------
# OpenLineage: the real provider's file transport, one JSON event per line under the Airflow home
# --------------------------------------------------------------------------------------------------

LINEAGE_NAMESPACE = "sixtyfour-tests"


def openlineage_env(home: Path) -> dict[str, str]:
    """Environment that makes the OpenLineage provider append every event to ``home/openlineage/events.jsonl``.

    The secret audit reads every file under ``home/openlineage/`` of each Airflow home a test used.
    """
    folder = Path(home) / "openlineage"
    folder.mkdir(parents=True, exist_ok=True)
    transport = {"type": "file", "log_file_path": str(folder / "events.jsonl"), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": LINEAGE_NAMESPACE,
    }


def lineage_events(home: Path) -> list[dict[str, Any]]:
    """The OpenLineage events written under ``home`` (see :func:`openlineage_env`), in order."""
    path = Path(home) / "openlineage" / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------------
# S3 through a moto server
# --------------------------------------------------------------------------------------------------


@dataclass
class MotoS3:
    """A moto S3 server on 127.0.0.1 and an ``aws`` connection that points at it."""

    endpoint_url: str
    conn_id: str = "aws_moto"

    def connection_json(self) -> str:
        return json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
            }
        )

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


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
    _forget_object_stores()
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(var, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield moto
    finally:
        server.stop()
        _forget_object_stores()


def _forget_object_stores() -> None:
    """Empty Airflow's per-process cache of object stores (``airflow.sdk.io.store`` / ``airflow.io.store``)."""
    import importlib

    for module in ("airflow.sdk.io.store", "airflow.io.store"):
        try:
            importlib.import_module(module)._STORE_CACHE.clear()
        except (ImportError, AttributeError):
            continue


# --------------------------------------------------------------------------------------------------
# A webhook sink: a real local HTTP server that records deliveries and answers as a test scripts it
# --------------------------------------------------------------------------------------------------

WEBHOOK_SECRET = "sk_whsec_test-current-0123456789"
"""The signing secret emulators sign deliveries with in tests (audited like an API key)."""
WEBHOOK_OLD_SECRET = "sk_whsec_test-previous-9876543210"
"""The secret being rotated out in rotation tests."""


@dataclass
class Delivery:
    """One request the sink received: its headers (names lower-cased) and raw body."""

    headers: dict[str, str]
    body: bytes

    @property
    def attempt(self) -> int:
        return int(self.headers["sixtyfour-delivery-attempt"])

    @property
    def event_id(self) -> str:
        return self.headers["sixtyfour-event-id"]

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookSink:
    """Records every POST; answers the next scripted reply (an HTTP status, or ``"lose"`` to close the
    connection without answering), then 200 once the script is used up."""

    def __init__(self) -> None:
        import http.server
        import threading

        self.deliveries: list[Delivery] = []
        self.script: list[int | str] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with sink._lock:
                    sink.deliveries.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                    reply = sink.script.pop(0) if sink.script else 200
                    sink._arrived.notify_all()
                if reply == "lose":
                    self.close_connection = True
                    return
                self.send_response(int(reply))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hooks/sixtyfour"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        """Wait until ``count`` deliveries arrived; returns all so far."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(f"{len(self.deliveries)} deliveries arrived, not {count}, in {timeout:.0f}s")
            return list(self.deliveries)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


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

HOSTILE_CONN_ID = "sixtyfour_hostile"


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
