"""Stream one signed URL into a sink chunk by chunk, hashing and counting as it goes.

The signed URL is a credential: it is sent by a session that carries no API key, and every error
raised from here names only the URL's host and path (its query string is removed from exception
texts, which ``requests`` and ``urllib3`` fill with the full URL).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from airflow_provider_sixtyfour.protocol.errors import SixtyfourError
from airflow_provider_sixtyfour.protocol.redaction import redact_url
from airflow_provider_sixtyfour.transfers.pipeline import BodyReader, HashingPipeline

if TYPE_CHECKING:
    import requests

    from airflow_provider_sixtyfour.transfers.destination import Sink

log = logging.getLogger(__name__)

MiB = 1 << 20
DEFAULT_CHUNK_SIZE = 256 * 1024
PROGRESS_EVERY_SECONDS = 30.0

_QUERY_IN_TEXT = re.compile(r"\?[^\s'\"<>)]+")
_XML_ERROR_CODE = re.compile(rb"<Code>([A-Za-z0-9_.-]{1,64})</Code>")


class DownloadAborted(SixtyfourError):
    """Another file failed or the task is being killed: stop without committing."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        super().__init__(f"download of {filename!r} stopped before it completed (task killed, or another file failed)")


class LinkRejected(Exception):
    """The storage refused the signed URL (400/403): it expired or its signature is no longer valid."""


class RetryableDownloadError(Exception):
    """The body did not arrive whole (truncated, reset, timed out, 5xx): try again."""


class FatalDownloadError(Exception):
    """The storage answered something a retry will not fix (404, other 4xx)."""


@dataclass(frozen=True)
class StreamResult:
    """What one successful stream wrote: byte count and SHA-256 of the body."""

    bytes: int
    sha256: str | None
    seconds: float


def scrub(text: str, url: str | None = None) -> str:
    """Remove a signed URL's query string (and any other query string) from an error text."""
    if url:
        query = urlsplit(url).query
        if query:
            text = text.replace(url, redact_url(url)).replace(query, "<redacted>")
    return _QUERY_IN_TEXT.sub("?<redacted>", text)


def describe_exception(exc: BaseException, url: str | None = None) -> str:
    """``TypeName: message`` for an exception from requests/urllib3, with signed parts removed."""
    return scrub(f"{type(exc).__name__}: {exc}", url)


def new_session(pool_size: int) -> requests.Session:
    """A ``requests`` session for signed URLs: no API key, no compression, a connection per worker.

    ``trust_env`` stays on so proxies from the environment apply, but ``.netrc`` credentials are
    never added to a signed URL.
    """
    import requests
    from requests.adapters import HTTPAdapter

    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=max(1, pool_size), pool_maxsize=max(1, pool_size), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    # Counting bytes against Content-Length needs the body as stored, not re-encoded in transit.
    session.headers["Accept-Encoding"] = "identity"
    session.auth = lambda request: request  # keeps requests from reading ~/.netrc
    return session


def stream_url(
    session: requests.Session,
    url: str,
    sink: Sink,
    *,
    label: str,
    expected_size: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    timeout: tuple[float, float] = (10.0, 120.0),
    abort: threading.Event | None = None,
    sha256: bool = True,
) -> StreamResult:
    """GET ``url`` and write its body to ``sink`` chunk by chunk; the sink is not committed here.

    :param label: the file's name, for logs.
    :param expected_size: the size the API announced (``file_size``), checked when given.
    :param sha256: compute the body's SHA-256 on the way (on a helper thread, overlapping the copy).
    :raises LinkRejected: the storage answered 400 or 403 (an expired or invalid signature).
    :raises RetryableDownloadError: the body was cut short or the transfer failed midway.
    :raises FatalDownloadError: any other refusal (404, other 4xx, a redirect loop).
    :raises DownloadAborted: ``abort`` was set while streaming.
    """
    import http.client

    import requests
    import urllib3

    started = time.monotonic()
    try:
        response = session.get(url, stream=True, timeout=timeout, allow_redirects=True)
    except requests.RequestException as exc:
        raise RetryableDownloadError(describe_exception(exc, url)) from None
    with response:
        status = response.status_code
        if status != 200:
            _raise_for_status(status, response.reason or "", _error_code(response))
        announced = _int_header(response.headers.get("Content-Length"))
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        decode = encoding not in ("", "identity")
        reader = BodyReader(response.raw, decode)
        # Small bodies are hashed inline; a helper thread would cost more than it saves.
        threaded = announced is None or announced > chunk_size
        pipe = HashingPipeline(depth=4, threaded=threaded, enabled=sha256)
        total = 0
        next_progress = started + PROGRESS_EVERY_SECONDS
        try:
            while True:
                if abort is not None and abort.is_set():
                    raise DownloadAborted(label)
                chunk = reader.read(chunk_size)
                if not chunk:
                    break
                pipe.submit(chunk)
                sink.write(chunk)
                total += len(chunk)
                now = time.monotonic()
                if now >= next_progress:
                    next_progress = now + PROGRESS_EVERY_SECONDS
                    _log_progress(label, total, announced, now - started)
        except (urllib3.exceptions.HTTPError, requests.RequestException, http.client.HTTPException, OSError) as exc:
            of = f" of {announced}" if announced is not None else ""
            raise RetryableDownloadError(
                f"truncated: the transfer broke after {total}{of} bytes ({describe_exception(exc, url)})"
            ) from None
        finally:
            digest = pipe.finish()
        wire_bytes = reader.wire_bytes
    if announced is not None and wire_bytes != announced:
        raise RetryableDownloadError(f"truncated: received {wire_bytes} of the {announced} bytes announced")
    if expected_size is not None and not decode and total != expected_size:
        raise RetryableDownloadError(f"size mismatch: received {total} bytes, the API lists file_size {expected_size}")
    return StreamResult(bytes=total, sha256=digest, seconds=time.monotonic() - started)


def _raise_for_status(status: int, reason: str, code: str | None) -> None:
    detail = f"the storage answered HTTP {status} {reason}".rstrip()
    if code:
        detail += f" ({code})"
    if status in (400, 401, 403):
        raise LinkRejected(detail + ": the signed URL expired or is no longer valid")
    if status == 429 or status >= 500 or status == 408:
        raise RetryableDownloadError(detail)
    raise FatalDownloadError(detail)


def _error_code(response: requests.Response) -> str | None:
    """The storage's error code (S3/GCS XML ``<Code>``), never the body: it may echo the signature."""
    try:
        head = response.raw.read(4096, decode_content=True) or b""
    except Exception:
        return None
    match = _XML_ERROR_CODE.search(head)
    return match.group(1).decode("ascii") if match else None


def _int_header(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        return None
    return number if number >= 0 else None


def _log_progress(label: str, done: int, total: int | None, seconds: float) -> None:
    rate = done / MiB / seconds if seconds > 0 else 0.0
    if total:
        log.info("%s: %.1f of %.1f MiB (%.0f%%), %.1f MiB/s", label, done / MiB, total / MiB, 100 * done / total, rate)
    else:
        log.info("%s: %.1f MiB so far, %.1f MiB/s", label, done / MiB, rate)


class _RedactQueryStrings(logging.Filter):
    """Strips query strings from urllib3's debug request lines (they would carry a signature)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "?" in a for a in record.args):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        return True


_filter_lock = threading.Lock()
_filter_installed = False


def install_urllib3_redaction() -> None:
    """Add the query-string filter to ``urllib3.connectionpool``'s logger, once per process."""
    global _filter_installed
    with _filter_lock:
        if not _filter_installed:
            logging.getLogger("urllib3.connectionpool").addFilter(_RedactQueryStrings())
            _filter_installed = True
