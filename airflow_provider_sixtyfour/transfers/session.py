"""The HTTP session that fetches signed URLs, and how it follows a storage's redirects.

A signed URL is a credential of its own: nothing else may ride along. The session sends no API key,
and it reads no credentials from the environment: ``requests`` with ``trust_env`` would add
``~/.netrc`` entries for the host a storage redirects to (its redirect handling reads ``.netrc`` even
when the session has ``auth`` set). So ``trust_env`` is off, redirects are followed here hop by hop,
and the two environment settings a worker may need to reach its storage at all are read explicitly
for each hop: the proxy (``HTTPS_PROXY``/``HTTP_PROXY``/``ALL_PROXY``, honouring ``NO_PROXY``) and a
CA bundle (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``). A proxy's own ``user:password@`` goes to that
proxy only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from airflow_provider_sixtyfour.protocol.redaction import url_host
from airflow_provider_sixtyfour.transfers.attempts import (
    FatalDownloadError,
    RetryableDownloadError,
    describe_exception,
)

if TYPE_CHECKING:
    import requests

#: Redirects a download follows before it gives up (a loop, or a storage that never answers).
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})


def new_session(pool_size: int) -> requests.Session:
    """A ``requests`` session for signed URLs: no API key, no compression, no credentials from the
    environment, a connection per worker."""
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(pool_connections=max(1, pool_size), pool_maxsize=max(1, pool_size), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # Counting bytes against Content-Length needs the body as stored, not re-encoded in transit.
    session.headers["Accept-Encoding"] = "identity"
    return session


def environment_settings(url: str) -> dict[str, Any]:
    """The proxy and CA bundle the environment names for ``url`` (never ``.netrc``)."""
    from requests.utils import get_environ_proxies

    verify: bool | str = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return {"proxies": get_environ_proxies(url), "verify": verify}


def open_url(session: requests.Session, url: str, timeout: tuple[float, float]) -> requests.Response:
    """GET ``url`` (streamed), following up to :data:`MAX_REDIRECTS` redirects to ``http(s)`` URLs.

    Returns the first answer that is not a redirect, open: the caller reads and closes it.

    :raises RetryableDownloadError: no answer (refused, reset, timed out).
    :raises FatalDownloadError: a redirect without ``Location``, to another scheme, from ``https`` to
        ``http``, or too many of them; a URL ``requests`` cannot send.
    """
    import requests

    current = url
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            response = session.get(
                current, stream=True, timeout=timeout, allow_redirects=False, **environment_settings(current)
            )
        except (requests.exceptions.InvalidURL, requests.exceptions.InvalidSchema, requests.exceptions.MissingSchema):
            raise FatalDownloadError(f"the download URL of host {url_host(current)} cannot be requested") from None
        except requests.RequestException as exc:
            raise RetryableDownloadError(describe_exception(exc, current)) from None
        except ValueError as exc:
            raise FatalDownloadError(
                f"the download URL of host {url_host(current)} cannot be requested ({type(exc).__name__})"
            ) from None
        if response.status_code not in REDIRECT_STATUSES:
            return response
        location = response.headers.get("Location")
        status = response.status_code
        response.close()
        current = _next_hop(current, location, status)
    raise FatalDownloadError(
        f"the storage redirected more than {MAX_REDIRECTS} times (last to host {url_host(current)}): a redirect loop?"
    )


def _next_hop(current: str, location: str | None, status: int) -> str:
    if not location:
        raise FatalDownloadError(f"the storage answered HTTP {status} (a redirect) without a Location header")
    try:
        target = urljoin(current, location.strip())
        scheme = urlsplit(target).scheme.lower()
    except ValueError:
        raise FatalDownloadError(f"the storage answered HTTP {status} with a Location that is not a URL") from None
    if scheme not in _SCHEMES:
        raise FatalDownloadError(
            f"the storage redirected to a {scheme or 'relative'}: URL (HTTP {status}); only http(s) is followed"
        )
    if urlsplit(current).scheme.lower() == "https" and scheme == "http":
        raise FatalDownloadError(
            f"the storage redirected from https to plain http (host {url_host(target)}); the signed URL "
            "would travel unencrypted, so it is not followed"
        )
    return target
