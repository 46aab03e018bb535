"""A hostile HTTP server for tests: every route of the API, answered right or as a broken proxy would.

:class:`HostileServer` listens on 127.0.0.1 (a free port) and speaks HTTP/1.1 over raw sockets, so it
can send what no well-behaved framework would: a body longer or shorter than its ``Content-Length``,
an interim ``1xx`` and nothing else, bytes that are not UTF-8, a body dripped a byte at a time.

By default it is a tiny, correct Sixtyfour API for one workflow (:data:`WORKFLOW_ID`) and one run
(:data:`JOB_ID`): every route answers what the vendor's documents say (a start replayed with a key
it saw answers ``already_started``), and the run's live status is whatever
:attr:`HostileServer.run` holds. :meth:`HostileServer.break_route` makes one route (or all)
answer with a :class:`Fault` instead: a function of the good answer that returns the raw bytes to
send. The tests in ``tests/reliability/test_hostile_servers.py`` drive the real hooks against it.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from airflow_provider_sixtyfour.protocol import endpoints

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
OTHER_JOB_ID = "9d1c0b2a-7e6f-4a5b-8c9d-0e1f2a3b4c5d"
WORKFLOW_ID = "wf-hostile"
STORAGE_ROUTE = "/_storage/{bucket}/{job_id}/{filename}"
RESULT_CSV = b"email,company,score\nada@example.com,Example Ltd,0.9\n"
RESULT_NAME = "block_01_webhook.csv"
#: The signature in every download URL the server hands out; the tests look for it in messages.
URL_SIGNATURE = "X-Goog-Signature=hostile-signature-0f0f0f"
NOW = "2026-01-01T00:00:00Z"

ROUTES: tuple[str, ...] = (*endpoints.ALL_ROUTES, STORAGE_ROUTE)


@dataclass(frozen=True)
class Good:
    """The right answer to one request: status, content type and body, before any fault."""

    route: str
    status: int
    content_type: str
    body: bytes
    data: Any


#: A fault: the good answer in, the raw HTTP response bytes out (or None to close without a word).
Fault = Callable[[Good], bytes | None]


def response(status: int, body: bytes = b"", content_type: str = "application/json", **headers: str) -> bytes:
    """A raw HTTP/1.1 response (``Content-Length`` is the body's unless given in ``headers``)."""
    reason = {200: "OK", 204: "No Content", 302: "Found", 304: "Not Modified", 102: "Processing"}.get(status, "X")
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Type: {content_type}", "Connection: close"]
    named = {k.replace("_", "-").lower() for k in headers}
    if "content-length" not in named and status not in (204, 304) and status >= 200:
        lines.append(f"Content-Length: {len(body)}")
    lines.extend(f"{k.replace('_', '-')}: {v}" for k, v in headers.items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@dataclass
class RunState:
    """What the fake API says about its one run (the live status, and the run's list record)."""

    status: str = "completed"
    completed_at: str | None = NOW
    run_id: str = JOB_ID
    #: Set to list the run with another status than its live status says (a stale cache).
    listed_status: str | None = None
    listed_completed_at: str | None = None


@dataclass
class HostileServer:
    """The server (see the module docstring). Use it as a context manager; it stops when left."""

    run: RunState = field(default_factory=RunState)
    faults: dict[str, Fault] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    drip_seconds: float = 0.2

    def __post_init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="hostile-server", daemon=True)
        self._lock = threading.Lock()
        self._keys: set[str | None] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sock.close()

    def reset(self) -> None:
        """Back to a correct API with a completed run, and no requests seen."""
        with self._lock:
            self.run = RunState()
            self.faults.clear()
            self.requests.clear()
            self._keys.clear()

    def break_route(self, route: str, fault: Fault) -> None:
        """Answer ``route`` (a template of :data:`ROUTES`, or ``"*"`` for all) with ``fault``."""
        with self._lock:
            self.faults[route] = fault

    def seen(self, route: str) -> int:
        """How many requests reached ``route``."""
        return sum(1 for _, r in self.requests if r == route)

    # -- serving -----------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(10)
            try:
                method, target, headers = _read_request(conn)
            except (OSError, ValueError):
                return
            route = route_of(urlsplit(target).path)
            with self._lock:
                self.requests.append((method, route))
                fault = self.faults.get(route) or self.faults.get("*")
                good = self._good(method, route, target, headers.get("idempotency-key"))
            raw = response(good.status, good.body, good.content_type) if fault is None else fault(good)
            try:
                if raw is not None and fault is drip:
                    head, _, body = raw.partition(b"\r\n\r\n")
                    conn.sendall(head + b"\r\n\r\n")
                    for byte in body:
                        if self._stop.wait(self.drip_seconds):
                            return
                        conn.sendall(bytes([byte]))
                elif raw is not None:
                    conn.sendall(raw)
                conn.shutdown(socket.SHUT_WR)
                conn.settimeout(1)
                while conn.recv(65536):  # let the client read everything before the close
                    pass
            except OSError:
                pass

    def _good(self, method: str, route: str, target: str, idempotency_key: str | None = None) -> Good:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        path_ids = _path_ids(route, parts.path)
        run = self.run
        data: Any
        if route == endpoints.RUN_WORKFLOW:
            data = {
                "job_id": JOB_ID,
                "workflow_id": query.get("workflow_id", WORKFLOW_ID),
                "status": "queued",
                "cache_config": None,
                "already_started": idempotency_key in self._keys,
            }
            self._keys.add(idempotency_key)
        elif route == endpoints.LIST_RUNS:
            data = [_run_record(run)]
        elif route == endpoints.LIVE_STATUS:
            data = _live_status(run, path_ids.get("run_id", JOB_ID))
        elif route == endpoints.CANCEL_RUN:
            data = {"job_id": query.get("job_id", JOB_ID), "status": "cancelled"}
        elif route == endpoints.DOWNLOAD_LINKS:
            data = [_link(self.url, path_ids.get("run_id", JOB_ID))]
        elif route == endpoints.UPLOAD_CSV:
            data = {endpoints.UPLOAD_HANDLE_KEY: "handle-hostile-1"}
        elif route == endpoints.LIST_WORKFLOWS:
            data = [_workflow(WORKFLOW_ID, with_blocks=False)]
        elif route == endpoints.GET_WORKFLOW:
            data = _workflow(path_ids.get("workflow_id", WORKFLOW_ID), with_blocks=True)
        elif route == STORAGE_ROUTE:
            return Good(route, 200, "text/csv", RESULT_CSV, None)
        else:
            return Good(route, 404, "application/json", b'{"detail": "Not Found"}', None)
        return Good(route, 200, "application/json", json.dumps(data).encode(), data)


def _read_request(conn: socket.socket) -> tuple[str, str, dict[str, str]]:
    """Read one request (head and body, ``Content-Length`` or chunked); return method, target, headers."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("connection closed before a request")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "content-length" in headers:
        need = int(headers["content-length"])
        while len(rest) < need:
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            rest += chunk
    return method, target, headers


_TEMPLATE_PART = re.compile(r"\{(\w+)\}")


def _pattern(template: str) -> re.Pattern[str]:
    regex, pos = "", 0
    for part in _TEMPLATE_PART.finditer(template):
        regex += re.escape(template[pos : part.start()]) + f"(?P<{part.group(1)}>[^/]+)"
        pos = part.end()
    return re.compile("^" + regex + re.escape(template[pos:]) + "$")


# Exact routes first: /workflows/runs must not read as /workflows/{workflow_id}.
_PATTERNS = sorted(((route, _pattern(route)) for route in ROUTES), key=lambda item: "{" in item[0])


def route_of(path: str) -> str:
    """The route template a path belongs to (``"?"`` for none)."""
    for route, pattern in _PATTERNS:
        if pattern.match(path):
            return route
    return "?"


def _path_ids(route: str, path: str) -> dict[str, str]:
    match = dict(_PATTERNS)[route].match(path) if route in dict(_PATTERNS) else None
    return match.groupdict() if match else {}


def _live_status(run: RunState, run_id: str) -> dict[str, Any]:
    done = run.status == "completed"
    return {
        "run_id": run.run_id if run.run_id != JOB_ID else run_id,
        "workflow_id": WORKFLOW_ID,
        "overall_status": run.status,
        "last_updated": NOW,
        "current_block": "webhook",
        "current_block_sequence": 1,
        "total_blocks": 1,
        "completed_blocks": 1 if done else 0,
        "started_at": NOW,
        "completed_at": run.completed_at,
        "blocks": [
            {
                "block_name": "webhook",
                "sequence_number": 1,
                "status": "completed" if done else "running",
                "progress_percentage": 100.0 if done else 50.0,
                "processed_count": 1,
                "total_count": 1,
                "metrics": {"row_count": 1},
            }
        ],
        "overall_progress_percentage": 100.0 if done else 50.0,
        "estimation_blocked_by": None,
    }


def _run_record(run: RunState) -> dict[str, Any]:
    return {
        "job_id": run.run_id,
        "workflow_id": WORKFLOW_ID,
        "status": run.listed_status or run.status,
        "workflow_name": "Hostile",
        "queued_at": NOW,
        "started_at": NOW,
        "completed_at": run.listed_completed_at if run.listed_status else run.completed_at,
        "duration_ms": 1000,
        "metrics": {"rows": 1},
        "blocks_count": 1,
    }


def _link(base_url: str, run_id: str) -> dict[str, Any]:
    return {
        "filename": RESULT_NAME,
        "storage_bucket": "hostile-bucket",
        "row_count": 1,
        "block_number": 1,
        "created_at": NOW,
        "download_url": f"{base_url}/_storage/hostile-bucket/{run_id}/{RESULT_NAME}?{URL_SIGNATURE}",
        "download_expires_in_seconds": 900,
        "file_size": len(RESULT_CSV),
    }


def _workflow(workflow_id: str, *, with_blocks: bool) -> dict[str, Any]:
    blocks = [{"sequence_number": 1, "block_type": "webhook", "block_name": "webhook", "specs": {}}]
    return {
        "id": workflow_id,
        "name": "Hostile",
        "status": "ready",
        "created_at": NOW,
        "workflow_definition": {"blocks": blocks} if with_blocks else None,
    }


def drip(good: Good) -> bytes:
    """The good answer, sent one byte at a time (the server paces it: ``drip_seconds`` a byte)."""
    return response(good.status, good.body, good.content_type)


#: The progress and count fields of the API's answers (live status, its blocks, run records, result files).
PROGRESS_KEYS = frozenset(
    {"overall_progress_percentage", "progress_percentage", "processed_count", "total_count", "row_count", "rows"}
)


def non_finite(good: Good, text: str = "NaN", keys: frozenset[str] = PROGRESS_KEYS) -> bytes:
    """The good answer with ``text`` (``NaN``, ``Infinity``, ``-Infinity``: Python's JSON extensions) as
    the value of every ``keys`` field, at any depth, as a server computing 0/0 sends it."""

    def mark(data: Any) -> Any:
        if isinstance(data, dict):
            return {k: "@@N@@" if k in keys else mark(v) for k, v in data.items()}
        if isinstance(data, list):
            return [mark(v) for v in data]
        return data

    return response(good.status, json.dumps(mark(good.data)).replace('"@@N@@"', text).encode())
