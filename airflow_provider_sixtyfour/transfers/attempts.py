"""How one download try ended, as the landing loop reads it, and the redaction of what it says.

The texts come from ``requests`` and ``urllib3`` exceptions, which put the whole URL (signature
included) in their messages: :func:`describe_exception` keeps only its host and path.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow_provider_sixtyfour.protocol.redaction import redact_queries_in, redact_url


class LinkRejected(Exception):
    """The storage refused the signed URL (400/403): it expired or its signature is no longer valid."""


class RetryableDownloadError(Exception):
    """The body did not arrive whole (truncated, reset, timed out, too slow, 5xx): try again."""


class FatalDownloadError(Exception):
    """The storage answered something a retry will not fix (404, other 4xx, a redirect loop)."""


def scrub(text: str, url: str | None = None) -> str:
    """Remove a signed URL's query string (and any other query string) from an error text."""
    if url:
        text = text.replace(url, redact_url(url))
        query = urlsplit(url).query
        if query:
            text = text.replace(query, "<redacted>")
    return redact_queries_in(text)


def describe_exception(exc: BaseException, url: str | None = None) -> str:
    """``TypeName: message`` for an exception from requests/urllib3, with signed parts removed."""
    return scrub(f"{type(exc).__name__}: {exc}", url)
