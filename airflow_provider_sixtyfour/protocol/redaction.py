"""Keep credentials out of text: signed URLs lose their query string, and known secrets are masked."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Return ``url`` without its query string and fragment (where signatures live), nor ``user:password@``.

    ``https://storage.example/b/file.csv?X-Signature=abc`` becomes ``https://storage.example/b/file.csv?<redacted>``;
    ``https://user:pw@storage.example/b/file.csv`` becomes ``https://storage.example/b/file.csv``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    if not parts.query and not parts.fragment:
        return url if netloc == parts.netloc else urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + "?<redacted>"


def url_host(url: str) -> str:
    """The host (and port) of a URL, the only part of a signed URL that is safe to log."""
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or "<no host>"
    except ValueError:
        return "<unparseable url>"


_URL_WITH_QUERY = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]*[?#][^\s\"'<>]*")


def redact_urls_in(text: str) -> str:
    """``text`` with every URL that carries a query string or fragment passed through :func:`redact_url`."""
    return _URL_WITH_QUERY.sub(lambda match: redact_url(match.group(0)), text)
