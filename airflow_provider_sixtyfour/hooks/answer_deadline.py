"""A ``requests`` session for API calls: a deadline for a whole answer (not for each read), and no redirects.

``requests`` (through urllib3 and ``http.client``) applies its ``timeout`` to each read from the
socket, so a server that sends one byte a second keeps a call alive for ever, in the status line, the
headers or the body. :class:`DeadlineAdapter` makes every read of the answer wait at most until the
deadline of the call in progress on this thread (set with :func:`answer_deadline`): past it, the read
raises ``TimeoutError`` and the attempt fails like any other timeout.

It works by giving urllib3's connections an ``http.client`` response class whose reader sets the
socket's timeout to the time left before each read. Nothing else about the connection changes.
:class:`NoRedirectSession` never even looks at a redirect's ``Location`` (``requests`` parses it to
offer ``Response.next`` even when not following, and a garbled one raises there).

Importing this module imports ``requests``: only the sync transport does, on its first call.
"""

from __future__ import annotations

import http.client
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from requests import Session
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()


class AnswerDeadlinePassed(TimeoutError):
    """The answer did not arrive whole before the call's deadline."""


@contextmanager
def answer_deadline(seconds: float) -> Iterator[None]:
    """Every read of an answer on this thread, within the block, ends ``seconds`` from now at the latest."""
    previous = getattr(_current, "deadline", None)
    _current.deadline = time.monotonic() + seconds
    try:
        yield
    finally:
        _current.deadline = previous


class _DeadlineReader(io.RawIOBase):
    """Reads a socket (through its own ``SocketIO``), each read bounded by the thread's deadline."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        # makefile() counts a reference on the socket, so closing the connection keeps it open until
        # this reader is closed, as http.client's own reader does.
        self._raw = sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        deadline = getattr(_current, "deadline", None)
        if deadline is None:
            return self._raw.readinto(buffer)
        left = deadline - time.monotonic()
        if left <= 0:
            raise AnswerDeadlinePassed("the answer did not arrive whole within the connection's timeout")
        previous = self._sock.gettimeout()
        self._sock.settimeout(left if previous is None else min(left, previous))
        try:
            return self._raw.readinto(buffer)
        finally:
            self._sock.settimeout(previous)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp.close()
        self.fp = io.BufferedReader(_DeadlineReader(sock))


class _HTTPConnection(HTTPConnection):
    response_class = _DeadlineResponse


class _HTTPSConnection(HTTPSConnection):
    response_class = _DeadlineResponse


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


_POOLS = {"http": _HTTPPool, "https": _HTTPSPool}


def _install(manager: Any) -> Any:
    # Only the plain pools: a SOCKS proxy manager keeps its own classes (and per-read timeouts).
    classes = getattr(manager, "pool_classes_by_scheme", None)
    if classes is not None and classes.get("http") is HTTPConnectionPool:
        manager.pool_classes_by_scheme = dict(_POOLS)
    return manager


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` adapter whose answers are read under the deadline set by :func:`answer_deadline`."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        _install(self.poolmanager)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        return _install(super().proxy_manager_for(proxy, **proxy_kwargs))


class NoRedirectSession(Session):
    """A session that never follows, nor prepares, a redirect: a 3xx is handed back as it came."""

    def resolve_redirects(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        return iter(())
