"""Keep credentials out of text: signed URLs lose their query string, and known secrets are masked."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def redact_url(url: str) -> str:
    """Return ``url`` without its query string and fragment (where signatures live).

    ``https://storage.example/b/file.csv?X-Signature=abc`` becomes ``https://storage.example/b/file.csv?<redacted>``.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    if not parts.query and not parts.fragment:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", "")) + "?<redacted>"


def url_host(url: str) -> str:
    """The host (and port) of a URL, the only part of a signed URL that is safe to log."""
    try:
        return urlsplit(url).netloc.rsplit("@", 1)[-1] or "<no host>"
    except ValueError:
        return "<unparseable url>"
