"""Signed URLs lose their query string; only host and path are ever shown."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable
from airflow_provider_sixtyfour.protocol.redaction import redact_url, url_host


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
