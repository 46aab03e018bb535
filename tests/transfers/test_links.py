"""The shared link cache: refreshes for null, rejected and expiring links, one fetch at a time."""

from __future__ import annotations

import threading

import pytest

from airflow_provider_sixtyfour.protocol.models import DownloadLink
from airflow_provider_sixtyfour.transfers.links import EXPIRY_MARGIN_SECONDS, LinkGone, LinkSource


class _Api:
    """Hands out numbered links, like the API signing anew on every call."""

    def __init__(self, names: list[str], null_first: int = 0) -> None:
        self.names = names
        self.calls = 0
        self.null_first = null_first
        self.lock = threading.Lock()

    def fetch(self) -> list[DownloadLink]:
        with self.lock:
            self.calls += 1
            n = self.calls
        url = None if n <= self.null_first else f"https://storage.test/{{name}}?sig={n}"
        return [
            DownloadLink(filename=name, storage_bucket="b", download_url=url.format(name=name) if url else None)
            for name in self.names
        ]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _link(name: str, block: int | None = None) -> DownloadLink:
    return DownloadLink(filename=name, storage_bucket="b", block_number=block)


A = _link("a.csv")


def test_usable_returns_cached_link_without_fetching() -> None:
    api = _Api(["a.csv"])
    source = LinkSource(api.fetch)
    source.load()
    assert source.usable(A).download_url == "https://storage.test/a.csv?sig=1"
    assert api.calls == 1


def test_null_url_is_refreshed() -> None:
    api = _Api(["a.csv"], null_first=1)
    source = LinkSource(api.fetch)
    assert source.load()[0].download_url is None
    assert source.usable(A).download_url == "https://storage.test/a.csv?sig=2"
    assert api.calls == 2


def test_rejected_link_is_replaced_once_even_with_many_threads() -> None:
    api = _Api(["a.csv", "b.csv"])
    source = LinkSource(api.fetch)
    source.load()
    rejected = source.usable(A)
    source.invalidate(rejected)
    source.invalidate(rejected)  # a second report of the same rejection changes nothing
    results: list[str | None] = []

    def worker() -> None:
        results.append(source.usable(A).download_url)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) == {"https://storage.test/a.csv?sig=2"}
    assert api.calls == 2


def test_invalidating_an_old_link_keeps_a_newer_one() -> None:
    api = _Api(["a.csv"])
    source = LinkSource(api.fetch)
    source.load()
    old = source.usable(A)
    source.invalidate(old)
    newer = source.usable(A)
    source.invalidate(old)  # a slow thread reporting the first link
    assert source.usable(A) is newer
    assert api.calls == 2


def test_links_close_to_expiry_are_refreshed() -> None:
    clock = _Clock()
    api = _Api(["a.csv"])
    source = LinkSource(api.fetch, clock=clock)
    source.load()
    clock.now += 900 - EXPIRY_MARGIN_SECONDS - 1
    assert source.usable(A).download_url.endswith("sig=1")  # type: ignore[union-attr]
    clock.now += 2
    assert source.usable(A).download_url.endswith("sig=2")  # type: ignore[union-attr]


def test_file_missing_from_fresh_list() -> None:
    api = _Api(["a.csv"])
    source = LinkSource(api.fetch)
    source.load()
    with pytest.raises(LinkGone):
        source.usable(_link("gone.csv"))


def test_links_are_told_apart_by_block_and_filename() -> None:
    """Two blocks naming their files alike: each block gets its own link, never the other's."""
    links = [
        DownloadLink(filename="results.csv", storage_bucket="b", block_number=2, download_url="https://s.test/2"),
        DownloadLink(filename="results.csv", storage_bucket="b", block_number=1, download_url="https://s.test/1"),
    ]
    source = LinkSource(lambda: list(links))
    source.load()
    assert source.usable(_link("results.csv", 1)).download_url == "https://s.test/1"
    assert source.usable(_link("results.csv", 2)).download_url == "https://s.test/2"
    source.invalidate(source.usable(_link("results.csv", 1)))
    # Only block 1's link was rejected; block 2's is still used without a fetch.
    assert source.fetches == 1
    assert source.usable(_link("results.csv", 2)).download_url == "https://s.test/2"
    assert source.fetches == 1
    with pytest.raises(LinkGone):
        source.usable(_link("results.csv", 3))
