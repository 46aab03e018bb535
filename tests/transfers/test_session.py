"""Following a storage's redirects: which hops are followed, and what the environment may add (no netrc)."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.transfers.attempts import FatalDownloadError
from airflow_provider_sixtyfour.transfers.session import _next_hop, environment_settings


def test_relative_and_absolute_locations() -> None:
    assert _next_hop("http://a.test/x/f.csv?sig=1", "/y/g.csv?sig=2", 302) == "http://a.test/y/g.csv?sig=2"
    assert _next_hop("http://a.test/f.csv", " https://b.test/f.csv ", 307) == "https://b.test/f.csv"


@pytest.mark.parametrize(
    ("current", "location", "message"),
    [
        ("https://a.test/f.csv", "http://b.test/f.csv", "from https to plain http \\(host b.test\\)"),
        ("http://a.test/f.csv", "ftp://b.test/f.csv", "redirected to a ftp: URL"),
        ("http://a.test/f.csv", "javascript:alert(1)", "redirected to a javascript: URL"),
        ("http://a.test/f.csv", None, "without a Location header"),
        ("http://a.test/f.csv", "http://[::1/f.csv", "with a Location that is not a URL"),
    ],
)
def test_hops_that_are_not_followed(current: str, location: str | None, message: str) -> None:
    with pytest.raises(FatalDownloadError, match=message):
        _next_hop(current, location, 302)


def test_environment_gives_proxies_honouring_no_proxy_and_a_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "direct.test")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    assert environment_settings("https://storage.test/f.csv")["proxies"].get("https") == "http://proxy.test:3128"
    assert environment_settings("https://direct.test/f.csv")["proxies"] == {}
    assert environment_settings("https://storage.test/f.csv")["verify"] == "/etc/ssl/corporate.pem"
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert environment_settings("https://storage.test/f.csv")["verify"] is True
