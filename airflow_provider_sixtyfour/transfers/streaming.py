"""Stream one signed URL into a sink chunk by chunk, hashing and counting as it goes.

The signed URL is a credential: it is sent by a session that carries no API key and reads no
credentials from the environment (:mod:`~airflow_provider_sixtyfour.transfers.session`), and every
error raised from here names only the URL's host and path (its query string is removed from
exception texts, which ``requests`` and ``urllib3`` fill with the full URL).

Every body is bounded while it is read, whatever its encoding: the bytes written may not pass the
API's ``file_size`` and the bytes received may not pass ``Content-Length``; the first chunk past
either stops the download before it is written. An encoded body whose decoded size the API does not
list may not expand past ``max_expansion`` times the bytes received (a decompression bomb would
otherwise fill the disk). A body slower than the throughput floor stops too.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_sixtyfour.protocol.errors import SixtyfourError
from airflow_provider_sixtyfour.transfers.attempts import (
    FatalDownloadError,
    LinkRejected,
    RetryableDownloadError,
    describe_exception,
    scrub,
)
from airflow_provider_sixtyfour.transfers.pipeline import (
    DECODED_ENCODINGS,
    BodyReader,
    CorruptBody,
    HashingPipeline,
    SpeedFloor,
)
from airflow_provider_sixtyfour.transfers.session import open_url

if TYPE_CHECKING:
    import requests

    from airflow_provider_sixtyfour.transfers.sinks import Sink

log = logging.getLogger(__name__)

MiB = 1 << 20
DEFAULT_CHUNK_SIZE = 256 * 1024
DEFAULT_MAX_EXPANSION = 200.0
#: Decoded bytes an encoded body may always reach, whatever its ratio (a small file can compress far).
EXPANSION_ALLOWANCE = 16 * MiB
PROGRESS_EVERY_SECONDS = 30.0

_XML_ERROR_CODE = re.compile(rb"<Code>([A-Za-z0-9_.-]{1,64})</Code>")


class DownloadAborted(SixtyfourError):
    """Another file failed or the task is being killed: stop without committing."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        super().__init__(f"download of {filename!r} stopped before it completed (task killed, or another file failed)")


@dataclass(frozen=True)
class StreamResult:
    """What one successful stream wrote: byte count and SHA-256 of the body."""

    bytes: int
    sha256: str | None
    seconds: float


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
    min_throughput: float = 0.0,
    throughput_window: float = 30.0,
    max_expansion: float = DEFAULT_MAX_EXPANSION,
) -> StreamResult:
    """GET ``url`` and write its body to ``sink`` chunk by chunk; the sink is not committed here.

    :param label: the file's name, for logs.
    :param expected_size: the size the API announced (``file_size``, the decoded size), checked when given.
    :param sha256: compute the body's SHA-256 on the way (on a helper thread, overlapping the copy).
    :param min_throughput: the throughput floor, bytes a second over ``throughput_window`` seconds
        (0: none); a slower body stops the try.
    :param max_expansion: with an encoded body and no ``expected_size``, the most decoded bytes per byte
        received (beyond the first 16 MiB); a body that expands further stops the download for good.
    :raises LinkRejected: the storage answered 400 or 403 (an expired or invalid signature).
    :raises RetryableDownloadError: the body was cut short, too long, too slow, or the transfer failed midway.
    :raises FatalDownloadError: any other refusal (404, other 4xx, a redirect loop, an unknown encoding,
        a body that expands past ``max_expansion``).
    :raises DownloadAborted: ``abort`` was set while streaming.
    """
    import http.client

    import requests
    import urllib3

    started = time.monotonic()
    response = open_url(session, url, timeout)
    with response:
        status = response.status_code
        if status != 200:
            _raise_for_status(status, response.reason or "", _error_code(response))
        announced = _int_header(response.headers.get("Content-Length"))
        encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("", "identity") and encoding not in DECODED_ENCODINGS:
            raise FatalDownloadError(
                f"the storage sent the body with Content-Encoding {encoding[:40]!r} although the download asked "
                f"for none; only {', '.join(sorted(DECODED_ENCODINGS))} can be undone"
            )
        reader = BodyReader(response.raw, encoding)
        # Small bodies are hashed inline; a helper thread would cost more than it saves.
        threaded = announced is None or announced > chunk_size
        pipe = HashingPipeline(depth=4, threaded=threaded, enabled=sha256)
        floor = SpeedFloor(min_throughput, throughput_window)
        expands = expected_size is None and encoding not in ("", "identity")
        total = 0
        next_progress = started + PROGRESS_EVERY_SECONDS
        try:
            while True:
                if abort is not None and abort.is_set():
                    raise DownloadAborted(label)
                chunk = reader.read(chunk_size)
                if not chunk:
                    break
                _check_bounds(total + len(chunk), expected_size, reader.wire_bytes, announced, encoding)
                if expands:
                    _check_expansion(total + len(chunk), reader.wire_bytes, max_expansion, encoding)
                writing = time.monotonic()
                pipe.submit(chunk)
                sink.write(chunk)
                floor.not_waiting(time.monotonic() - writing)
                total += len(chunk)
                slow = floor.check(total)
                if slow:
                    raise RetryableDownloadError(f"{slow}; stopped after {total} bytes")
                now = time.monotonic()
                if now >= next_progress:
                    next_progress = now + PROGRESS_EVERY_SECONDS
                    _log_progress(label, total, announced, now - started)
        except CorruptBody as exc:
            raise RetryableDownloadError(f"{exc}, after {total} bytes") from None
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
    if expected_size is not None and total != expected_size:
        raise RetryableDownloadError(f"size mismatch: received {total} bytes, the API lists file_size {expected_size}")
    return StreamResult(bytes=total, sha256=digest, seconds=time.monotonic() - started)


def _check_bounds(written: int, expected_size: int | None, wire: int, announced: int | None, encoding: str) -> None:
    """Stop before a chunk that takes the body past ``file_size`` (decoded) or ``Content-Length`` (as sent)."""
    if expected_size is not None and written > expected_size:
        how = "" if encoding in ("", "identity") else f" once its {encoding} encoding was undone"
        raise RetryableDownloadError(
            f"too long: the body grew past the API's file_size of {expected_size} bytes{how}; stopped reading "
            f"before writing byte {expected_size + 1}"
        )
    if announced is not None and wire > announced:
        raise RetryableDownloadError(
            f"too long: the storage sent more than the {announced} bytes its Content-Length announced; stopped reading"
        )


def _check_expansion(written: int, wire: int, max_expansion: float, encoding: str) -> None:
    """Stop an encoded body of unlisted size once it decodes to more than ``max_expansion`` x its wire bytes."""
    if written > EXPANSION_ALLOWANCE and written > max_expansion * wire:
        raise FatalDownloadError(
            f"too long: {wire} bytes of {encoding} would decode to {written} bytes, more than {max_expansion:g} "
            f"times their size, and the API lists no file_size to check them against (a decompression bomb?); "
            f"stopped reading before writing them. Raise DownloadOptions.max_expansion if the file is real"
        )


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
    """The storage's error code (S3/GCS XML ``<Code>``), never the body: it may echo the signature.

    Read undecoded (a compressed error body is not expanded just to find a code).
    """
    try:
        head = response.raw.read(4096, decode_content=False) or b""
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
