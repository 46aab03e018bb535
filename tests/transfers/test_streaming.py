"""Errors of the streaming layer carry no signed query string, even when requests puts the URL in them."""

from __future__ import annotations

import logging
import traceback

import pytest
from conftest import free_port

from airflow_provider_sixtyfour.transfers.streaming import (
    RetryableDownloadError,
    install_urllib3_redaction,
    new_session,
    scrub,
    stream_url,
)

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
