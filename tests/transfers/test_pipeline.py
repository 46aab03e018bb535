"""The copy loop's helpers: SHA-256 off-thread matches hashlib; body reads take one read's worth, decoded
in bounded pieces; the throughput floor's decision."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import io
import os
import threading
import zlib

import pytest

from airflow_provider_sixtyfour.transfers.pipeline import BodyReader, CorruptBody, HashingPipeline, SpeedFloor


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
    reader = BodyReader(_Raw(_response(head, body)))
    chunks = []
    while chunk := reader.read(4):
        assert 0 < len(chunk) <= 4
        chunks.append(chunk)
    assert b"".join(chunks) == expected
    assert reader.wire_bytes == len(expected)
    assert reader.read(4) == b""


# --------------------------------------------------------------------------------------------------
# Content encodings: undone in bounded pieces
# --------------------------------------------------------------------------------------------------

TEXT = b"".join(b"row %d,some enriched value\n" % i for i in range(5000))


def _deflate(data: bytes, wbits: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return compressor.compress(data) + compressor.flush()


def _read_all(reader: BodyReader, size: int) -> bytes:
    chunks = []
    while chunk := reader.read(size):
        assert 0 < len(chunk) <= size
        chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [
        ("gzip", gzip.compress(TEXT)),
        ("x-gzip", gzip.compress(TEXT)),
        # Two gzip members one after the other are one body.
        ("gzip", gzip.compress(TEXT[:40000]) + gzip.compress(TEXT[40000:])),
        ("deflate", _deflate(TEXT, zlib.MAX_WBITS)),
        ("deflate", _deflate(TEXT, -zlib.MAX_WBITS)),  # raw deflate, without the zlib header
    ],
    ids=["gzip", "x-gzip", "gzip-two-members", "deflate-zlib", "deflate-raw"],
)
def test_encoded_bodies_are_decoded_in_pieces_no_larger_than_asked(encoding: str, wire: bytes) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(wire)
    reader = BodyReader(_Raw(_response(head, wire)), encoding)
    assert _read_all(reader, 1000) == TEXT
    assert reader.wire_bytes == len(wire)


def test_a_gzip_bomb_is_expanded_only_as_far_as_it_is_read() -> None:
    bomb = gzip.compress(b"\0" * (16 << 20))
    reader = BodyReader(_Raw(_response(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(bomb), bomb)), "gzip")
    # However much a network read brought, what it expands to is handed out 64 KiB at a time.
    assert reader.read(65536) == b"\0" * 65536
    assert len(_read_all(reader, 65536)) == (16 << 20) - 65536


@pytest.mark.parametrize(
    ("encoding", "wire", "message"),
    [
        ("gzip", gzip.compress(TEXT)[:-100], "ended before its end marker"),
        ("gzip", b"this is not gzip at all", "the gzip body does not decode"),
        ("gzip", gzip.compress(TEXT) + b"trailing garbage", "the gzip body does not decode"),
        ("deflate", b"neither zlib nor raw deflate \xff\xff", "the deflate body does not decode"),
    ],
    ids=["truncated", "not-gzip", "garbage-after", "not-deflate"],
)
def test_a_broken_encoded_body_is_an_error_not_short_data(encoding: str, wire: bytes, message: str) -> None:
    reader = BodyReader(_Raw(_response(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n" % len(wire), wire)), encoding)
    with pytest.raises(CorruptBody, match=message):
        _read_all(reader, 4096)


def test_an_empty_encoded_body_is_empty() -> None:
    reader = BodyReader(_Raw(_response(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n", b"")), "gzip")
    assert reader.read(10) == b""


# --------------------------------------------------------------------------------------------------
# The throughput floor: a pure decision on a clock
# --------------------------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_speed_floor_judges_each_full_window() -> None:
    clock = _Clock()
    floor = SpeedFloor(1000, 30, clock)
    clock.now += 29
    assert floor.check(10) is None  # the first window is not over yet, however slow
    clock.now += 1
    assert floor.check(30_000) is None  # 30,000 bytes in 30 s: exactly the floor
    clock.now += 30
    assert floor.check(30_000 + 29_999) is not None  # one byte short in the next window
    fast_then_drip = SpeedFloor(1000, 30, clock)
    clock.now += 30
    assert fast_then_drip.check(10 << 20) is None
    clock.now += 31
    message = fast_then_drip.check((10 << 20) + 31)
    assert message == (
        "too slow: 31 bytes in the last 31.0 s (1 bytes/s), below the floor of 1000 bytes/s over 30 s "
        "(DownloadOptions min_throughput and throughput_window)"
    )


def test_speed_floor_leaves_out_the_time_spent_writing() -> None:
    # A destination that takes 60 s to store a part is not a server that drips: only waiting counts.
    clock = _Clock()
    floor = SpeedFloor(1000, 30, clock)
    clock.now += 10
    floor.not_waiting(60)
    clock.now += 60
    assert floor.check(10_000) is None  # 10 s of waiting so far: the window is not over
    clock.now += 20
    assert floor.check(30_000) is None  # 30,000 bytes in 30 s of waiting: exactly the floor
    clock.now += 30
    floor.not_waiting(-5)  # a clock that went backwards adds no time
    assert floor.check(30_000 + 29_999) is not None


def test_speed_floor_of_zero_is_off() -> None:
    clock = _Clock()
    floor = SpeedFloor(0, 1, clock)
    clock.now += 3600
    assert floor.check(0) is None
