"""A webhook sink: a real local HTTP server that records deliveries and answers as a test scripts it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


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
