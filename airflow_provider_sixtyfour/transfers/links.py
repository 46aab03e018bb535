"""The run's download links, shared by the download threads, refreshed when one has expired.

Signed URLs live ``download_expires_in_seconds`` (900 s). A link that the storage rejects, that is
null, or that is about to expire is replaced by asking the API for the whole list again; one thread
asks at a time, and the others reuse what it got. A link is known by its block and filename
together: two blocks may name their files alike.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from airflow_provider_sixtyfour.protocol.models import DownloadLink

log = logging.getLogger(__name__)

LinkKey = tuple[int | None, str]


def link_key(link: DownloadLink) -> LinkKey:
    """What tells one result file from another: its block number and its filename."""
    return (link.block_number, link.filename)


#: A link this close to its expiry (or a quarter of its lifetime, if less) is refreshed before a
#: download starts with it.
EXPIRY_MARGIN_SECONDS = 60.0


class LinkGone(Exception):
    """The refreshed list no longer names the file."""


class LinkSource:
    """A thread-safe cache of one run's download links.

    :param fetch: asks the API for the run's links (``hook.get_download_links(job_id, format)``).
    :param clock: monotonic seconds (replaceable in tests).
    """

    def __init__(self, fetch: Callable[[], list[DownloadLink]], clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._links: dict[LinkKey, DownloadLink] = {}
        self._fetched_at = 0.0
        self.fetches = 0

    def load(self) -> list[DownloadLink]:
        """Fetch the links (the first call); returns them in the API's order."""
        with self._lock:
            return self._refresh()

    def _refresh(self) -> list[DownloadLink]:
        links = self._fetch()
        self.fetches += 1
        self._fetched_at = self._clock()
        self._links = {link_key(link): link for link in links}
        return links

    def _expiring(self, link: DownloadLink) -> bool:
        lifetime = link.expires_in_seconds or 0
        if lifetime <= 0:
            return False
        margin = min(EXPIRY_MARGIN_SECONDS, lifetime / 4)
        return self._clock() - self._fetched_at >= lifetime - margin

    def usable(self, wanted: DownloadLink) -> DownloadLink:
        """The current link of the file ``wanted`` names (same block and filename); refreshed first if it
        is null or about to expire."""
        key = link_key(wanted)
        with self._lock:
            link = self._links.get(key)
            if link is None or not link.download_url or self._expiring(link):
                if link is None:
                    reason = "is not in the list"
                elif not link.download_url:
                    reason = "has no URL or was rejected by the storage"
                else:
                    reason = "is about to expire"
                log.info(
                    "The download link of %s (block %s) %s; asking the API for fresh links.",
                    wanted.filename,
                    wanted.block_number,
                    reason,
                )
                self._refresh()
                link = self._links.get(key)
            if link is None:
                raise LinkGone(wanted.filename)
            return link

    def invalidate(self, rejected: DownloadLink) -> None:
        """Mark ``rejected`` as refused by the storage: the next :meth:`usable` call fetches fresh links.

        If another thread already replaced it, the newer link is kept and nothing is fetched.
        """
        key = link_key(rejected)
        with self._lock:
            if self._links.get(key) is rejected:
                self._links[key] = replace(rejected, download_url=None)
