"""The hook tests' clients, log capture, stub server and waits.

Their fixtures are in ``tests/hooks/conftest.py``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook, SixtyfourHook
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY

FAST_WORKFLOW = "wf-test-fast"
SLOW_WORKFLOW = "wf-test-slow"


class HookClient:
    """Calls either hook's methods the same way, so each test runs against both.

    ``kind`` is ``"sync"`` (``SixtyfourHook``) or ``"async"`` (``SixtyfourAsyncHook`` entered with
    ``async with`` on a private event loop for the client's whole life).
    """

    def __init__(self, kind: str, conn_id: str = "sixtyfour_default") -> None:
        self.kind = kind
        self.conn_id = conn_id
        self._runner: asyncio.Runner | None = None
        self.hook: SixtyfourHook | SixtyfourAsyncHook
        if kind == "sync":
            self.hook = SixtyfourHook(sixtyfour_conn_id=conn_id)
        else:
            self._runner = asyncio.Runner()
            self.hook = SixtyfourAsyncHook(sixtyfour_conn_id=conn_id)

    def __call__(self, method: str, *args: Any, **kwargs: Any) -> Any:
        result = getattr(self.hook, method)(*args, **kwargs)
        if self._runner is not None and asyncio.iscoroutine(result):
            return self._runner.run(result)
        return result

    def close(self) -> None:
        if isinstance(self.hook, SixtyfourAsyncHook):
            assert self._runner is not None
            self._runner.run(self.hook.aclose())
            self._runner.close()
        else:
            self.hook.close()


def point_conn(monkeypatch: pytest.MonkeyPatch, base_url: str, conn_id: str = "sixtyfour_default", **extra: Any) -> str:
    """Define ``conn_id`` through its ``AIRFLOW_CONN_*`` variable, pointed at ``base_url``."""
    api_key = extra.pop("api_key", TEST_API_KEY)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", sixtyfour_connection_uri_json(base_url, api_key, **extra))
    return conn_id


class AllLogs:
    """Everything logged, whichever way this Airflow routes it: stdlib records (Airflow 2) and
    structlog lines written to stdout/stderr (Airflow 3)."""

    def __init__(self, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> None:
        self._caplog = caplog
        self._capfd = capfd
        self._seen = ""

    @property
    def text(self) -> str:
        out, err = self._capfd.readouterr()
        self._seen += out + err
        return self._caplog.text + self._seen

    def lines(self, containing: str) -> list[str]:
        """The log messages (in order) that contain ``containing``, from stdlib records when the
        logger is a stdlib one (Airflow 2, where the console shows them again), else from the output."""
        records = [f"{r.levelname} {r.getMessage()}" for r in self._caplog.records if containing in r.getMessage()]
        if records:
            return records
        return [line for line in self.text.splitlines() if containing in line]


@dataclass(frozen=True)
class Recorded:
    """One request as a :class:`StubServer` received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class StubServer:
    """A plain HTTP server on 127.0.0.1 that records each request and answers from a script.

    For answers the emulator never gives (a proxy's HTML page with 200, JSON missing fields) and for
    checking exactly what went over the wire. The last scripted answer repeats once the script runs out.
    """

    def __init__(self, *answers: tuple[int, str, bytes]) -> None:
        self.answers = list(answers) or [(200, "application/json", b"{}")]
        self.requests: list[Recorded] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                stub.requests.append(Recorded(self.command, url.path, parse_qs(url.query), dict(self.headers), body))
                status, content_type, payload = stub.answers.pop(0) if len(stub.answers) > 1 else stub.answers[0]
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def wait_for(predicate: Callable[[], Any], what: str, limit: float = 60.0) -> Any:
    """Poll ``predicate`` until it returns something truthy (a safety limit only, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)
