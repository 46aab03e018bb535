"""Turning an HTTP answer into a typed record or the right exception; no I/O.

Everything read from the answer is untrusted: a 3xx is an error (API calls never follow redirects),
JSON nested too deeply to decode is a response error, and whatever the body echoes of the API key is
masked (by the call's :class:`~airflow_provider_sixtyfour.protocol.redaction.Redactor`) before it
reaches a record, a message or a log line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from airflow_provider_sixtyfour.protocol.decoding import UnreadableJson, decode_json, looks_like_html
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourResponseError,
    error_for_response,
    redirect_for_response,
)
from airflow_provider_sixtyfour.protocol.fields import MalformedAnswer
from airflow_provider_sixtyfour.protocol.redaction import Redactor
from airflow_provider_sixtyfour.protocol.retry import parse_retry_after

T = TypeVar("T")

#: What a bug-free parser can still raise on input no one foresaw; always a response error, never raw.
_PARSE_FAILURES = (ValueError, TypeError, LookupError, ArithmeticError, RecursionError)

#: The largest API answer read (the biggest documented one, 500 run records, is well under 1 MiB);
#: reading stops past it.
MAX_ANSWER_BYTES = 32 * 1024 * 1024

_NO_SECRETS = Redactor()


def _location(headers: Mapping[str, str]) -> str | None:
    for key, value in headers.items():
        if key.lower() == "location":
            return value
    return None


def answer_too_large(call: ApiCall[Any], size: int | None, limit: int = MAX_ANSWER_BYTES) -> SixtyfourResponseError:
    """The error for an answer bigger than ``limit`` bytes (``size`` when its Content-Length said so)."""
    told = f"{size} bytes (Content-Length)" if size is not None else f"more than {limit} bytes"
    return SixtyfourResponseError(
        call.method,
        call.path,
        f"the answer is {told}; answers over {limit // (1024 * 1024)} MiB are not read. The API's answers are "
        "far smaller: is a proxy or a wrong base URL in the way?",
    )


def read_answer(
    call: ApiCall[T],
    status_code: int,
    body: bytes,
    headers: Mapping[str, str],
    reason: str = "",
    *,
    note: str = "",
    redactor: Redactor | None = None,
) -> T:
    """Parse a final answer to ``call``: the typed record for 2xx, else raise the mapped error.

    :param note: what the caller adds to an error's message (e.g. why it did not retry).
    :param redactor: masks the connection's secrets in whatever the answer echoes.
    """
    redact = redactor or _NO_SECRETS
    if status_code >= 400:
        raise error_for_response(
            status_code,
            call.method,
            call.path,
            body,
            reason=redact.text(reason),
            retry_after=parse_retry_after(headers),
            note=note,
            redactor=redact,
        )
    # 304 Not Modified is no redirect: a cache answering it is an empty answer, read as such below.
    if 300 <= status_code < 400 and status_code != 304:
        raise redirect_for_response(status_code, call.method, call.path, _location(headers), redact)
    if not body.strip():
        raise SixtyfourResponseError(
            call.method,
            call.path,
            f"HTTP {status_code} answer is empty, where the API always answers JSON; is a proxy or cache in the way?",
        )
    try:
        data = decode_json(body)
    except UnreadableJson as err:
        raise SixtyfourResponseError(
            call.method, call.path, redact.text(f"HTTP {status_code} answer {err.problem}")
        ) from None
    except ValueError:
        # Masked before it is cut, so a key that straddles the cut cannot show in part.
        snippet = redact.text(body[:400].decode("utf-8", "replace"))[:80]
        kind = "an HTML page" if looks_like_html(snippet) else "not JSON"
        raise SixtyfourResponseError(
            call.method,
            call.path,
            f"HTTP {status_code} answer is {kind} (starts {snippet!r}); is a proxy or a wrong base URL in the way?",
        ) from None
    if redact.found_in(body):
        data = redact.scrub(data)
    try:
        return call.parse(data)
    except MalformedAnswer as err:
        raise SixtyfourResponseError(call.method, call.path, redact.text(str(err))) from None
    except _PARSE_FAILURES as err:
        raise SixtyfourResponseError(
            call.method, call.path, f"its JSON does not have the documented shape ({type(err).__name__})"
        ) from None
