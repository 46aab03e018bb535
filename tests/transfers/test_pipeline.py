"""The copy loop's helpers: SHA-256 off-thread matches hashlib; body reads take one read's worth."""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import threading

import pytest

from airflow_provider_sixtyfour.transfers.pipeline import BodyReader, HashingPipeline


@pytest.mark.parametrize("threaded", [True, False])
def test_digest_matches_hashlib(threaded: bool) -> None:
    data = os.urandom(3 * 65536 + 123)
    pipe = HashingPipeline(depth=2, threaded=threaded)
    try:
        for offset in range(0, len(data), 65536):
            pipe.submit(data[offset : offset + 65536])
        digest = pipe.finish()
    finally:
        pipe.close()
    assert digest == hashlib.sha256(data).hexdigest()


def test_disabled_hashes_nothing_and_starts_no_thread() -> None:
    before = threading.active_count()
    pipe = HashingPipeline(depth=4, enabled=False)
    assert threading.active_count() == before
    pipe.submit(b"x" * 10)
    assert pipe.finish() is None


class _StalledHash:
    """A hash whose ``update`` waits until released: a hasher that fell behind the copy."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[bytes] = []

    def update(self, chunk: bytes) -> None:
        self.release.wait(10)
        self.seen.append(chunk)

    def hexdigest(self) -> str:
        return "stalled"


def test_submit_waits_while_depth_chunks_wait_to_be_hashed() -> None:
    """The queue bounds memory: with the hasher stalled, the copy stops after ``depth`` queued chunks."""
    pipe = HashingPipeline(depth=2)
    stalled = _StalledHash()
    pipe._sha = stalled  # type: ignore[assignment]
    submitted: list[int] = []

    def copy() -> None:
        for i in range(6):
            pipe.submit(bytes([i]))
            submitted.append(i)

    copier = threading.Thread(target=copy)
    copier.start()
    try:
        copier.join(0.5)
        assert copier.is_alive()
        # One chunk in the hasher's hands, two in the queue, and the fourth submit waiting.
        assert submitted == [0, 1, 2]
    finally:
        stalled.release.set()
        copier.join(10)
    assert pipe.finish() == "stalled"
    assert stalled.seen == [bytes([i]) for i in range(6)]


def test_close_is_idempotent() -> None:
    pipe = HashingPipeline()
    pipe.close()
    pipe.close()
    assert pipe.finish() == hashlib.sha256(b"").hexdigest()


class _Socket:
    """Just enough of a socket for ``http.client.HTTPResponse``: one canned byte stream."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))  # type: ignore[arg-type]


class _Raw:
    """What ``BodyReader`` looks for on a urllib3 response: the ``http.client`` response as ``_fp``."""

    def __init__(self, fp: http.client.HTTPResponse) -> None:
        self._fp = fp


def _response(head: bytes, body: bytes) -> http.client.HTTPResponse:
    response = http.client.HTTPResponse(_Socket(head + b"\r\n" + body))  # type: ignore[arg-type]
    response.begin()
    return response


@pytest.mark.parametrize(
    ("head", "body", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n", b"hello, and bytes past the length", b"hello"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n", b"3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n", b"abcdefg"),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", b"until the end", b"until the end"),
    ],
    ids=["content-length", "chunked", "read-to-close"],
)
def test_reads_whole_body_in_chunks_no_larger_than_asked(head: bytes, body: bytes, expected: bytes) -> None:
    reader = BodyReader(_Raw(_response(head, body)), decode=False)
    chunks = []
    while chunk := reader.read(4):
        assert 0 < len(chunk) <= 4
        chunks.append(chunk)
    assert b"".join(chunks) == expected
    assert reader.wire_bytes == len(expected)
    assert reader.read(4) == b""
