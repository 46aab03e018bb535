"""Turning an HTTP answer into a typed record or the right exception; no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from airflow_provider_sixtyfour.protocol.decoding import UnreadableJson, decode_json
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.errors import SixtyfourResponseError, error_for_response
from airflow_provider_sixtyfour.protocol.fields import MalformedAnswer
from airflow_provider_sixtyfour.protocol.retry import parse_retry_after

T = TypeVar("T")

#: What a bug-free parser can still raise on input no one foresaw; always a response error, never raw.
_PARSE_FAILURES = (ValueError, TypeError, LookupError, ArithmeticError, RecursionError)


def read_answer(call: ApiCall[T], status_code: int, body: bytes, headers: Mapping[str, str], reason: str = "") -> T:
    """Parse a final answer to ``call``: the typed record for 2xx, else raise the mapped error."""
    if status_code >= 400:
        raise error_for_response(
            status_code,
            call.method,
            call.path,
            body,
            reason=reason,
            retry_after=parse_retry_after(headers),
        )
    if not body.strip():
        raise SixtyfourResponseError(
            call.method,
            call.path,
            f"HTTP {status_code} answer is empty, where the API always answers JSON; is a proxy or cache in the way?",
        )
    try:
        data = decode_json(body)
    except UnreadableJson as err:
        raise SixtyfourResponseError(call.method, call.path, f"HTTP {status_code} answer {err.problem}") from None
    except ValueError:
        snippet = body[:80].decode("utf-8", "replace")
        kind = "an HTML page" if snippet.lstrip().lower().startswith(("<!doctype", "<html")) else "not JSON"
        raise SixtyfourResponseError(
            call.method,
            call.path,
            f"HTTP {status_code} answer is {kind} (starts {snippet!r}); is a proxy or a wrong base URL in the way?",
        ) from None
    try:
        return call.parse(data)
    except MalformedAnswer as err:
        raise SixtyfourResponseError(call.method, call.path, str(err)) from None
    except _PARSE_FAILURES as err:
        raise SixtyfourResponseError(
            call.method, call.path, f"its JSON does not have the documented shape ({type(err).__name__})"
        ) from None
