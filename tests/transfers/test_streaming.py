"""Errors of the streaming layer carry no signed query string, even when requests puts the URL in them."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import logging
import threading
import time
import traceback
from collections.abc import Iterator

import pytest
from helpers.net import free_port

from airflow_provider_sixtyfour.transfers.attempts import RetryableDownloadError, scrub
from airflow_provider_sixtyfour.transfers.session import new_session
from airflow_provider_sixtyfour.transfers.streaming import install_urllib3_redaction, stream_url

from .hostile import Exchange, HostileServer, body

SECRET = "X-Amz-Signature=deadbeefcafe0123456789&X-Amz-Credential=AKIA%2Fsecret"


class _NullSink:
    def write(self, data: bytes | memoryview) -> None:
        raise AssertionError("nothing should be written")

    def commit(self) -> None:
        raise AssertionError("nothing should be committed")

    def abort(self) -> None:
        pass


def test_scrub_removes_query_strings() -> None:
    url = f"https://storage.example/bucket/file.csv?{SECRET}"
    prefix = "HTTPSConnectionPool(host='storage.example', port=443): Max retries exceeded with url: "
    text = f"{prefix}/bucket/file.csv?{SECRET} (Caused by ...)"
    assert scrub(text, url) == f"{prefix}/bucket/file.csv?<redacted> (Caused by ...)"
    assert scrub(f"GET {url} failed", url) == "GET https://storage.example/bucket/file.csv?<redacted> failed"
    assert scrub("no url here") == "no url here"


def test_connection_refused_error_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    install_urllib3_redaction()
    url = f"http://127.0.0.1:{free_port()}/bucket/file.csv?{SECRET}"
    session = new_session(1)
    try:
        with pytest.raises(RetryableDownloadError) as caught:
            stream_url(session, url, _NullSink(), label="file.csv", timeout=(2.0, 2.0))
    finally:
        session.close()
    rendered = "".join(traceback.format_exception(caught.value))
    assert "/bucket/file.csv?<redacted>" in str(caught.value)
    for text in (rendered, caplog.text):
        assert "deadbeefcafe" not in text
        assert "AKIA" not in text


def test_session_sends_no_api_key_and_no_compression() -> None:
    session = new_session(4)
    try:
        assert "x-api-key" not in {k.lower() for k in session.headers}
        assert session.headers["Accept-Encoding"] == "identity"
    finally:
        session.close()


class _ListSink:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes | memoryview) -> None:
        self.chunks.append(bytes(data))

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


BODY = b"name,email\n" + b"".join(b'"Ada %d","a%d@example.com"\n' % (i, i) for i in range(40_000))


class _StorageHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``BODY`` the ways a storage may: plain, gzip-encoded, chunked, or cut short."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        kind = self.path.split("?")[0].strip("/")
        if kind == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(BODY), 100_000):
                piece = BODY[start : start + 100_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        body = gzip.compress(BODY) if kind == "gzip" else BODY
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        if kind == "gzip":
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if kind == "cut" else body)
        if kind == "cut":
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def storage() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StorageHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.parametrize("kind", ["plain", "gzip", "chunked"])
@pytest.mark.parametrize("sha256", [False, True])
def test_every_body_shape_lands_byte_for_byte(storage: str, kind: str, sha256: bool) -> None:
    sink = _ListSink()
    with new_session(1) as session:
        result = stream_url(session, f"{storage}/{kind}?{SECRET}", sink, label="f.csv", chunk_size=65536, sha256=sha256)
    assert b"".join(sink.chunks) == BODY
    assert max(len(c) for c in sink.chunks) <= 65536
    assert result.bytes == len(BODY)
    assert result.sha256 == (hashlib.sha256(BODY).hexdigest() if sha256 else None)


def test_a_body_cut_short_is_retryable_not_accepted(storage: str) -> None:
    with new_session(1) as session, pytest.raises(RetryableDownloadError, match="truncated") as caught:
        stream_url(session, f"{storage}/cut?{SECRET}", _ListSink(), label="f.csv", expected_size=len(BODY))
    assert "deadbeefcafe" not in str(caught.value)


def test_the_session_reads_nothing_from_the_environment() -> None:
    with new_session(1) as session:
        assert session.trust_env is False
        assert session.auth is None


def test_a_gzip_bomb_writes_nothing_past_file_size(hostile: HostileServer) -> None:
    bomb = gzip.compress(b"\0" * (64 << 20), compresslevel=9)
    url = hostile.file("bomb.csv", body(bomb, {"Content-Encoding": "gzip"}))
    sink = _ListSink()
    with new_session(1) as session, pytest.raises(RetryableDownloadError, match="past the API's file_size of 10"):
        stream_url(session, url, sink, label="bomb.csv", expected_size=10, chunk_size=65536)
    # The first decoded chunk already passed the bound: it was never written.
    assert sink.chunks == []


def _chunked_past_length(exchange: Exchange) -> None:
    # Both headers: http.client follows the chunks, so the body can run past Content-Length.
    exchange.start(200, {"Transfer-Encoding": "chunked", "Content-Length": "150"})
    for _ in range(3):
        exchange.write(b"64\r\n" + b"x" * 100 + b"\r\n")
    exchange.write(b"0\r\n\r\n")


def test_a_body_past_content_length_stops_before_it_is_written(hostile: HostileServer) -> None:
    url = hostile.file("long.csv", _chunked_past_length)
    sink = _ListSink()
    with (
        new_session(1) as session,
        pytest.raises(RetryableDownloadError, match="more than the 150 bytes its Content-Length announced"),
    ):
        stream_url(session, url, sink, label="long.csv", chunk_size=65536)
    assert sum(len(c) for c in sink.chunks) <= 150


class _SlowSink(_ListSink):
    """A destination that takes its time over every chunk, as a busy S3 part upload does."""

    def write(self, data: bytes | memoryview) -> None:
        time.sleep(0.2)
        super().write(data)


def test_a_slow_destination_is_not_a_slow_server(storage: str) -> None:
    # Five 64 KiB chunks, a second of writing: far below a floor of 1 MiB/s over 0.5 s if writing counted.
    sink = _SlowSink()
    with new_session(1) as session:
        result = stream_url(
            session, f"{storage}/plain", sink, label="f.csv", chunk_size=65536,
            min_throughput=1 << 20, throughput_window=0.5,
        )  # fmt: skip
    assert b"".join(sink.chunks) == BODY
    assert result.seconds >= 0.2 * len(sink.chunks)
