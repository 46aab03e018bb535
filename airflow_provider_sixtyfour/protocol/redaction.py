"""Keep credentials out of text the provider logs, raises or stores; no I/O.

- :func:`redact_url`: one URL without its query string and fragment (where a signed URL's signature
  lives; ``?<redacted>`` stands in their place) and without ``user:password@``; :func:`url_host` keeps
  only its host and port.
- :func:`redact_urls_in`: every URL with a scheme (``https://``, ``s3://``...) in a text that carries a
  query or fragment, passed through :func:`redact_url`.
- :func:`redact_queries_in`: every query string in a text, also after a bare path (``/f.csv?sig=1``), as
  ``requests``, ``urllib3`` and ``httpx`` write URLs in their messages.
- :class:`Redactor`: masks known secrets (a connection's API key, raw and URL-quoted, when at least
  :data:`MIN_SECRET_LENGTH` characters long) as ``***`` in text and in decoded JSON; in text it also
  redacts URLs as :func:`redact_urls_in`, in JSON it leaves them whole (a download link must work).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit


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
#: A query string anywhere in text (a bare path's too): ``?`` up to white space, a quote, ``<``, ``>`` or ``)``.
_QUERY_IN_TEXT = re.compile(r"\?[^\s'\"<>)]+")


def redact_urls_in(text: str) -> str:
    """``text`` with every URL that carries a query string or fragment passed through :func:`redact_url`."""
    return _URL_WITH_QUERY.sub(lambda match: redact_url(match.group(0)), text)


def redact_queries_in(text: str) -> str:
    """``text`` with every query string replaced by ``?<redacted>``, also after a bare path (``/x?sig=1``)
    such as the URLs ``requests``, ``urllib3`` and ``httpx`` put in their messages."""
    return _QUERY_IN_TEXT.sub("?<redacted>", text)


#: Secrets shorter than this are not masked: masking every ``e`` of a message would hide it, and no
#: real API key is this short.
MIN_SECRET_LENGTH = 8
MASK = "***"


class Redactor:
    """Masks known secrets (a connection's API key) and signed URLs' queries in text a server sent.

    Some gateways echo the request, key and all, in their error pages; whatever the provider repeats
    from an answer (exception text, log lines, trigger events, records) goes through one of these.

    :param secrets: the values to mask (each also in its URL-quoted form); shorter than
        :data:`MIN_SECRET_LENGTH` characters are ignored.
    """

    __slots__ = ("_needles", "_secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {
            form for secret in secrets if len(secret) >= MIN_SECRET_LENGTH for form in (secret, quote(secret, safe=""))
        }
        self._secrets = tuple(sorted(forms, key=len, reverse=True))
        self._needles = tuple(form.encode() for form in self._secrets)

    def text(self, text: str) -> str:
        """``text`` with every secret masked and every URL's query redacted: safe to log or raise."""
        return redact_urls_in(self.secrets_in(text))

    def secrets_in(self, text: str) -> str:
        """``text`` with every secret masked (URLs left whole)."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def found_in(self, body: bytes) -> bool:
        """True when a secret appears in ``body`` (a fast check before scrubbing a decoded answer)."""
        return any(needle in body for needle in self._needles)

    def scrub(self, value: Any) -> Any:
        """A copy of decoded JSON with every secret masked in its strings (keys included); URLs stay whole,
        as a signed download link must still work."""
        if isinstance(value, str):
            return self.secrets_in(value)
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        if isinstance(value, dict):
            return {self.secrets_in(str(key)): self.scrub(item) for key, item in value.items()}
        return value
