"""Signed URLs lose their query string; only host and path are ever shown."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable
from airflow_provider_sixtyfour.protocol.redaction import (
    MIN_SECRET_LENGTH,
    Redactor,
    redact_queries_in,
    redact_url,
    redact_urls_in,
    url_host,
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://s.example/b/f.csv?X-Signature=abc&Expires=1", "https://s.example/b/f.csv?<redacted>"),
        ("https://user:pw@s.example/b/f.csv?sig=abc", "https://s.example/b/f.csv?<redacted>"),
        ("https://s.example/b/f.csv#token=abc", "https://s.example/b/f.csv?<redacted>"),
        ("https://s.example/b/f.csv", "https://s.example/b/f.csv"),
        ("https://user:pw@s.example/b/f.csv", "https://s.example/b/f.csv"),
        ("https://token@s.example:8443/b/f.csv", "https://s.example:8443/b/f.csv"),
        ("/workflows/runs", "/workflows/runs"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_unparseable() -> None:
    assert redact_url("http://[::1") == "<unparseable url>"


def test_url_host() -> None:
    assert url_host("https://user:pw@storage.example:8443/x?sig=1") == "storage.example:8443"
    assert url_host("/relative") == "<no host>"
    assert url_host("http://[::1") == "<unparseable url>"


def test_to_jsonable_plain_values() -> None:
    assert to_jsonable({"a": (1, 2), 3: None}) == {"a": [1, 2], "3": None}
    assert to_jsonable(object.__new__(object)).startswith("<object object")


# -- Redactor: the connection's key and signed URLs' queries in text a server sent ----------------

KEY = "sk-live-0123456789abcdef"


def test_redactor_masks_the_key_raw_and_url_quoted() -> None:
    redactor = Redactor([KEY + "/+"])
    text = f"bad key {KEY}/+ (sent as x-api-key={quote(KEY + '/+', safe='')})"
    assert redactor.text(text) == "bad key *** (sent as x-api-key=***)"


def test_redactor_strips_every_url_query_in_text() -> None:
    text = "see https://s.example/a.csv?X-Amz-Signature=abc&x=1 and s3://b/k?versionId=9, or http://h/p"
    assert redact_urls_in(text) == "see https://s.example/a.csv?<redacted> and s3://b/k?<redacted> or http://h/p"


def test_redactor_ignores_secrets_too_short_to_be_keys() -> None:
    assert Redactor(["e", "abc"]).text("the error here") == "the error here"
    assert MIN_SECRET_LENGTH == 8


def test_redactor_scrubs_decoded_json_but_keeps_urls_whole() -> None:
    redactor = Redactor([KEY])
    data = {"error_message": f"echo {KEY}", KEY: [1, f"{KEY}{KEY}"], "url": "https://s.example/f?sig=1"}
    assert redactor.found_in(json.dumps(data).encode())
    assert redactor.scrub(data) == {
        "error_message": "echo ***",
        "***": [1, "******"],
        "url": "https://s.example/f?sig=1",
    }
    assert not redactor.found_in(b'{"nothing": "here"}')
    assert Redactor().text("plain") == "plain"


def test_redact_queries_in_text_also_after_a_bare_path() -> None:
    text = "Max retries exceeded with url: /b/f.csv?X-Amz-Signature=abc (Caused by x) 'h/p?t=1' what?"
    assert (
        redact_queries_in(text)
        == "Max retries exceeded with url: /b/f.csv?<redacted> (Caused by x) 'h/p?<redacted>' what?"
    )
