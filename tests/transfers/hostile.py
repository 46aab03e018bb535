"""A storage of the test's own on 127.0.0.1, answering each path as the test says, with a stand-in API.

The API part answers the two calls landing makes (a completed live status and the download links the
test gives), so that a test can hand the provider links no real API and no emulator would: two files
of one name, names with a NUL, links to a storage that redirects, drips or sends a gzip bomb. Every
request is recorded with its headers.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_provider_sixtyfour.protocol.endpoints import DOWNLOAD_LINKS, LIVE_STATUS

Answer = Callable[["Exchange"], None]


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    request_line: str


class Exchange:
    """One request being answered: what a route's function gets."""

    def __init__(self, handler: BaseHTTPRequestHandler, server: HostileServer) -> None:
        self.handler = handler
        self.server = server
        self.path = urlsplit(handler.path).path
        #: How many requests this path had so far, this one included.
        self.count = server.count(self.path)

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        """A whole answer with ``Content-Length`` (unless ``headers`` names its own)."""
        handler = self.handler
        handler.send_response(status)
        merged = {"Content-Length": str(len(body)), **(headers or {})}
        for name, value in merged.items():
            handler.send_header(name, value)
        handler.end_headers()
        if body:
            handler.wfile.write(body)

    def start(self, status: int, headers: dict[str, str]) -> None:
        """Send the status line and headers only; the route writes the body itself (``write``)."""
        self.handler.send_response(status)
        for name, value in headers.items():
            self.handler.send_header(name, value)
        self.handler.end_headers()

    def write(self, data: bytes) -> bool:
        """Write body bytes now; False once the client has gone."""
        try:
            self.handler.wfile.write(data)
            self.handler.wfile.flush()
        except OSError:
            return False
        return True


class HostileServer:
    """A ``ThreadingHTTPServer`` on ``host`` (127.0.0.1), a free port; stop it with :meth:`stop`.

    :param host: the address to listen on (always a loopback address).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Answer] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hostile-server", daemon=True)
        self._thread.start()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path).path
        with self._lock:
            self.seen.append(Seen(path, {k.lower(): v for k, v in handler.headers.items()}, handler.requestline))
        answer = self.routes.get(path)
        exchange = Exchange(handler, self)
        if answer is None:
            exchange.send(404, b"<Error><Code>NoSuchKey</Code></Error>", {"Content-Type": "application/xml"})
            return
        answer(exchange)

    def count(self, path: str) -> int:
        """Requests received for ``path`` so far."""
        with self._lock:
            return sum(1 for seen in self.seen if seen.path == path)

    def headers_of(self, path: str) -> list[dict[str, str]]:
        """The headers of every request for ``path``, in order."""
        with self._lock:
            return [seen.headers for seen in self.seen if seen.path == path]

    def file(self, name: str, answer: Answer, host: str | None = None) -> str:
        """Serve ``answer`` at ``/files/<name>``; returns a signed-looking URL for it (on ``host`` if given)."""
        path = f"/files/{quote(name)}"
        self.routes[path] = answer
        base = f"http://{host}:{self.port}" if host else self.url
        return f"{base}{path}?expires=1900000000&signature={secrets.token_hex(20)}"

    def serve_run(self, links: list[dict[str, Any]]) -> str:
        """Answer as the API for a new completed run whose download links are ``links``; returns its id."""
        job_id = str(uuid.uuid4())
        status = {
            "run_id": job_id,
            "workflow_id": "wf-hostile",
            "overall_status": "completed",
            "completed_at": "2026-12-01T00:00:00Z",
            "overall_progress_percentage": 100,
        }
        self.routes[LIVE_STATUS.format(run_id=job_id)] = lambda ex: _json(ex, status)
        self.routes[DOWNLOAD_LINKS.format(run_id=job_id)] = lambda ex: _json(ex, links)
        return job_id

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(10)


def _json(exchange: Exchange, data: Any) -> None:
    import json

    exchange.send(200, json.dumps(data).encode(), {"Content-Type": "application/json"})


def link(name: str, url: str | None, *, block: int | None = 1, size: int | None = None) -> dict[str, Any]:
    """One download-links entry as the API writes it."""
    return {
        "filename": name,
        "storage_bucket": "hostile-bucket",
        "row_count": 1,
        "block_number": block,
        "content_type": "text/csv",
        "download_url": url,
        "download_expires_in_seconds": 900,
        "file_size": size,
    }


def body(data: bytes, headers: dict[str, str] | None = None) -> Answer:
    """An answer with ``data`` as a plain 200 body."""
    return lambda exchange: exchange.send(200, data, headers)
