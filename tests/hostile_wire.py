"""A hostile HTTP server for tests: it answers each request with whatever bytes a script says, as slowly as asked.

For what the emulator never does and a broken proxy, cache or gateway might: redirect, drip an answer a
byte at a time, send a body larger than any API answer, a ``Content-Encoding`` that does not decode, JSON
nested thousands deep, an error page that echoes the request's API key. It listens on 127.0.0.1 on a free
port and writes raw bytes to the socket, so even the status line and headers can be malformed or slow.

    server = HostileServer(answer(302, headers={"Location": "http://elsewhere.example/x"}))
    ...  # point a connection at server.base_url
    server.stop()

Each request gets the next behaviour of the script; the last one repeats. A behaviour is a callable
``(Exchange) -> bool | None`` that writes the answer (see :func:`answer`, :func:`drip`, :func:`endless`)
and returns True when the connection may carry another request (only a whole answer with a
``Content-Length`` does). Request bodies are read by ``Content-Length`` only (no chunked uploads).
The ``hostile_server`` fixture of ``tests/conftest.py`` starts them and stops them after the test.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import BinaryIO
from urllib.parse import parse_qs, urlsplit

#: Longest a request head may be (the provider's are well under 2 KiB).
_MAX_HEAD = 64 * 1024


@dataclass(frozen=True)
class Request:
    """One request as the hostile server read it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Exchange:
    """One request and the socket to answer it on; behaviours write with :meth:`send`."""

    request: Request
    sock: socket.socket
    stopping: threading.Event
    sent: int = 0

    def send(self, data: bytes) -> bool:
        """Write ``data``; False once the client has gone (or the server is stopping)."""
        if self.stopping.is_set():
            return False
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (less if the server stops); False if it is stopping."""
        return not self.stopping.wait(seconds)


Behaviour = Callable[[Exchange], "bool | None"]


def head(status: int, headers: Mapping[str, str] | None = None, reason: str | None = None) -> bytes:
    """A status line and headers, as bytes (``reason`` defaults to the standard phrase)."""
    phrase = reason if reason is not None else _phrase(status)
    lines = [f"HTTP/1.1 {status} {phrase}"]
    lines.extend(f"{name}: {value}" for name, value in (headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Whatever"


def answer(
    status: int = 200,
    body: bytes | str | object = b"",
    headers: Mapping[str, str] | None = None,
    *,
    reason: str | None = None,
    content_type: str = "application/json",
) -> Behaviour:
    """A whole answer at once; ``body`` may be bytes, text, or anything JSON-serialisable."""
    payload = _bytes(body)
    all_headers = {"Content-Type": content_type, "Content-Length": str(len(payload))}
    all_headers.update(headers or {})

    def behave(exchange: Exchange) -> bool:
        return exchange.send(head(status, all_headers, reason) + payload)

    return behave


def drip(data: bytes, every: float) -> Behaviour:
    """Send ``data`` (status line, headers and body: the whole raw answer) one byte every ``every`` seconds."""

    def behave(exchange: Exchange) -> None:
        for index in range(len(data)):
            if not exchange.send(data[index : index + 1]) or not exchange.pause(every):
                return

    return behave


def endless(status: int = 200, chunk: bytes = b" " * 65536, headers: Mapping[str, str] | None = None) -> Behaviour:
    """A head (no ``Content-Length``, closed by the end of the connection) then ``chunk`` repeated until the
    client hangs up: a body larger than any cap, never held in memory here."""
    all_headers = {"Content-Type": "application/json", "Connection": "close"}
    all_headers.update(headers or {})

    def behave(exchange: Exchange) -> None:
        if not exchange.send(head(status, all_headers)):
            return
        while exchange.send(chunk):
            pass

    return behave


def raw(data: bytes) -> Behaviour:
    """Exactly these bytes, then the connection closes."""

    def behave(exchange: Exchange) -> None:
        exchange.send(data)

    return behave


def _bytes(body: bytes | str | object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


class HostileServer:
    """A TCP server on 127.0.0.1 answering HTTP requests from a script of behaviours (the last repeats).

    :param behaviours: what to do with each request in turn.
    """

    def __init__(self, *behaviours: Behaviour) -> None:
        self.behaviours = list(behaviours) or [answer(200, [])]
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.base_url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, name="hostile-server", daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._sockets.add(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        sock.settimeout(30)
        reader = sock.makefile("rb")
        try:
            for request in _requests(reader):
                with self._lock:
                    self.requests.append(request)
                    behaviour = self.behaviours.pop(0) if len(self.behaviours) > 1 else self.behaviours[0]
                if not behaviour(Exchange(request, sock, self._stopping)):
                    break
        except OSError:
            pass
        finally:
            with self._lock:
                self._sockets.discard(sock)
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            reader.close()
            sock.close()

    def stop(self) -> None:
        """Stop answering, end every connection, and close the listening socket."""
        self._stopping.set()
        self._listener.close()
        with self._lock:
            open_sockets = list(self._sockets)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)

    def paths(self) -> list[str]:
        """The path of every request received, in order."""
        with self._lock:
            return [r.path for r in self.requests]


def _requests(reader: BinaryIO) -> Iterator[Request]:
    """Each request read from a connection (head and ``Content-Length`` body); stops at EOF."""
    while True:
        lines: list[bytes] = []
        size = 0
        while True:
            line = reader.readline(_MAX_HEAD)
            if not line:
                return
            size += len(line)
            if line in (b"\r\n", b"\n") or size > _MAX_HEAD:
                break
            lines.append(line)
        if not lines:
            continue
        method, target, _version = lines[0].decode("latin-1").split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip()] = value.strip()
        length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), "0") or 0)
        body = reader.read(length) if length else b""
        url = urlsplit(target)
        yield Request(method, url.path, parse_qs(url.query), headers, body)
