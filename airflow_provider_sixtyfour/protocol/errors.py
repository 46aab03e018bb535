"""The exceptions the provider raises, and the mapping from an HTTP answer to one of them.

Every message names the HTTP status, the method and the path, and the API's own message read from
any of its error shapes. None ever carries the API key or a signed URL's query string: text from an
answer goes through a :class:`~airflow_provider_sixtyfour.protocol.redaction.Redactor` first.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_sixtyfour.protocol.decoding import looks_like_html
from airflow_provider_sixtyfour.protocol.redaction import Redactor, redact_url, url_host


class SixtyfourError(Exception):
    """Base class of every error this provider raises.

    ``final`` says that a retry of the task cannot fix it (a wrong parameter, a key the API refuses, a
    target that exists, ...): tasks then fail without Airflow's retries (see :func:`is_final`). Each
    class declares it; an instance may decide it from what it is about (a run that failed for good).

    ``wait_refused`` says why the hook raised it instead of waiting to retry (the task is stopping, or
    the wait would pass the task's deadline); None when it did not decline a wait.
    """

    final: bool = False
    wait_refused: str | None = None

    def _name_call(self, method: str, path: str) -> str:
        """Record the request this error is about (its path without a signed query); ``METHOD /path``."""
        self.method = method
        self.path = redact_url(path)
        return f"{method} {self.path}"


class SixtyfourInputError(SixtyfourError, ValueError):
    """A value given to the provider is wrong; raised before any request is sent."""

    final = True


class SixtyfourTransportError(SixtyfourError):
    """The request did not get an HTTP answer: connection refused or reset, timeout, DNS failure."""

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.reason = reason
        super().__init__(f"{self._name_call(method, path)} failed before an answer arrived: {reason}")


class SixtyfourWebhookError(SixtyfourError):
    """A webhook delivery failed verification, or its body is not a delivery.

    :param reason: why, one of ``protocol.webhooks.REASONS``: ``missing_header``, ``malformed``, ``stale``,
        ``future``, ``no_match``. The message says what was wrong and how to fix it, never a secret or an
        expected digest.
    """

    final = True

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(f"webhook delivery refused ({reason}): {message}")


class SixtyfourRequestError(SixtyfourError):
    """The request could not be sent as built (an invalid URL or header, a scheme the client cannot
    speak); sending it again cannot help, so tasks fail without Airflow's retries."""

    final = True

    def __init__(self, method: str, path: str, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"{self._name_call(method, path)} could not be sent: {reason}. Check the host of the Sixtyfour "
            "connection (a URL such as https://api.sixtyfour.ai) and the values passed to the call"
        )


class SixtyfourResponseError(SixtyfourError):
    """The API answered 2xx, but not with what the documented schema promises (not JSON, fields missing)."""

    def __init__(self, method: str, path: str, problem: str) -> None:
        self.problem = problem
        super().__init__(f"{self._name_call(method, path)} answered something this provider cannot read: {problem}")


class SixtyfourApiError(SixtyfourError):
    """The API answered with an HTTP error status.

    :param status_code: the HTTP status.
    :param method: the HTTP method of the request.
    :param path: the request path (never with a signed query string).
    :param api_message: the API's own message, read from ``message``, ``error`` or ``detail``.
    :param details: the list of validation problems of a 422 answer, if any.
    :param retry_after: seconds the API asked to wait (429), if it said.
    :param code: the API's own error code, when its body names one (``{"error": {"code": ...}}``).
    :param note: what the provider adds (e.g. why it did not retry), after the message.
    """

    hint: str = ""

    def __init__(
        self,
        status_code: int,
        method: str,
        path: str,
        api_message: str,
        *,
        details: list[dict[str, Any]] | None = None,
        retry_after: float | None = None,
        code: str | None = None,
        note: str = "",
    ) -> None:
        self.status_code = status_code
        self.api_message = api_message
        self.details = details or []
        self.retry_after = retry_after
        self.code = code
        message = f"{self._name_call(method, path)} failed with HTTP {status_code}: {api_message}"
        for extra in (self.hint, note):
            if extra:
                message = f"{message}. {extra}"
        super().__init__(message)


class SixtyfourRedirectError(SixtyfourApiError):
    """3xx: the API (or something in front of it) answered with a redirect. API calls never follow one:
    the key and the request would go to whatever host it names. Fails without Airflow's retries."""

    final = True
    hint = (
        "API calls never follow redirects. Check the host of the Sixtyfour connection: the API's own "
        "address (https://api.sixtyfour.ai), not http:// or a proxy's login page"
    )


class SixtyfourAuthError(SixtyfourApiError):
    """401: the API key is missing, wrong or revoked (and 403, below): final."""

    final = True
    hint = (
        "Check the API key in the password field of the Sixtyfour connection "
        "(or in the AIRFLOW_CONN_<CONN_ID> environment variable that defines it)"
    )


class SixtyfourForbiddenError(SixtyfourAuthError):
    """403: the key is valid but the organisation may not use this feature."""

    hint = "The key is valid but its organisation may not use this feature; ask Sixtyfour to enable it"


class SixtyfourInsufficientCreditError(SixtyfourApiError):
    """402: the organisation's credit balance cannot pay for the run; not final: a top-up fixes it."""

    hint = "Top up the organisation's Sixtyfour credits, then clear the task"


class SixtyfourNotFoundError(SixtyfourApiError):
    """404: the workflow or run does not exist, or belongs to another organisation: final."""

    final = True
    hint = "Check the id, and that the API key belongs to the organisation that owns it"


class SixtyfourConflictError(SixtyfourApiError):
    """409: the API refused the request as conflicting with the current state; not final: it can pass with time."""


class SixtyfourValidationError(SixtyfourApiError):
    """400 or 422: the API refused the request's content; ``details`` lists each problem: final."""

    final = True


class SixtyfourRateLimitError(SixtyfourApiError):
    """429: too many requests for this API key (the documented limit is 500 a minute)."""


class SixtyfourServerError(SixtyfourApiError):
    """5xx: the API failed on its side."""


#: Errors that waiting can fix (429, 5xx, no answer, a garbled answer); never another 4xx. Pollers
#: (the trigger's, the sensor's, the run operator's) keep polling through these.
TRANSIENT_ERRORS: tuple[type[SixtyfourError], ...] = (
    SixtyfourRateLimitError,
    SixtyfourServerError,
    SixtyfourTransportError,
    SixtyfourResponseError,
)


def is_transient(error: BaseException) -> bool:
    """True for errors that waiting fixes (see :data:`TRANSIENT_ERRORS`)."""
    return isinstance(error, TRANSIENT_ERRORS)


def fails_a_poll(error: BaseException) -> bool:
    """True when a status poll's error counts towards the failures in a row that end a wait.

    A 429 never does: the API answered, the run goes on, and the key is only asked to slow down
    (the hook has already waited on it for minutes); the wait polls again later, within its deadline.
    """
    return not isinstance(error, SixtyfourRateLimitError)


def is_final(error: BaseException) -> bool:
    """True for errors a retry of the task cannot fix: a :class:`SixtyfourError` whose ``final`` is true.

    Final: wrong input, 400/422, 401/403, 404, a redirect, a request that cannot be sent, a target that
    exists, a run that failed... Not final: 402 (credit) and 409 (conflict), which can pass with time,
    and every transient error.
    """
    return isinstance(error, SixtyfourError) and error.final


_BY_STATUS: dict[int, type[SixtyfourApiError]] = {
    400: SixtyfourValidationError,
    401: SixtyfourAuthError,
    402: SixtyfourInsufficientCreditError,
    403: SixtyfourForbiddenError,
    404: SixtyfourNotFoundError,
    409: SixtyfourConflictError,
    422: SixtyfourValidationError,
    429: SixtyfourRateLimitError,
}


#: The longest API message repeated in an exception; the rest is cut (a body may be megabytes).
MAX_MESSAGE_CHARS = 2000


def _format_validation_item(item: Mapping[str, Any]) -> str:
    loc = ".".join(str(part) for part in item.get("loc") or [])
    msg = str(item.get("msg") or item.get("message") or item)
    return f"{loc}: {msg}" if loc else msg


def read_api_message(status_code: int, body: bytes, reason: str = "") -> tuple[str, list[dict[str, Any]]]:
    """Read the API's message from an error body in any of its shapes.

    Returns the message and, for 422-style bodies, the list of validation items.
    """
    message, details, _code = read_api_error(body, reason)
    return message, details


def read_api_error(
    body: bytes, reason: str = "", redactor: Redactor | None = None
) -> tuple[str, list[dict[str, Any]], str | None]:
    """The message, the validation items and the error code of an error body, in any of its shapes:
    ``{"error": "...", "message": "..."}``, ``{"error": {"code": "...", "message": "..."}}``,
    ``{"detail": "..."}`` and ``{"detail": [{"loc": [...], "msg": "..."}]}``. With ``redactor``,
    whatever the body echoes of the connection's secrets, and every URL's query, is masked.
    """
    message, details, code = _read_api_error(body, reason, redactor)
    if redactor is not None:
        message = redactor.text(message)
        details = [redactor.scrub(item) for item in details]
        code = None if code is None else redactor.text(code)
    if len(message) > MAX_MESSAGE_CHARS:
        message = message[:MAX_MESSAGE_CHARS] + f"... ({len(message)} characters in all)"
    return message, details, code


def _read_api_error(
    body: bytes, reason: str, redactor: Redactor | None
) -> tuple[str, list[dict[str, Any]], str | None]:
    fallback = reason or "no message"
    if not body:
        return fallback, [], None
    try:
        data = json.loads(body)
    except RecursionError:
        return f"{fallback} (the answer's JSON is nested too deeply to read)", [], None
    except (ValueError, UnicodeDecodeError):
        text = body[:600].decode("utf-8", "replace")
        # Masked before it is cut, so a key that straddles the cut cannot show in part.
        text = (redactor.text(text) if redactor is not None else text)[:200].strip()
        if looks_like_html(text):
            return f"{fallback} (the answer was an HTML page, not the API's JSON: is a proxy in the way?)", [], None
        return f"{fallback} (answer not JSON: {text!r})", [], None
    if not isinstance(data, Mapping):
        return fallback, [], None
    detail = data.get("detail")
    if isinstance(detail, list):
        items = [item for item in detail if isinstance(item, Mapping)]
        text = "; ".join(_format_validation_item(item) for item in items) or fallback
        return text, [dict(item) for item in items], None
    parts: list[str] = []
    if isinstance(detail, str) and detail:
        parts.append(detail)
    error = data.get("error")
    message = data.get("message")
    code: str | None = None
    if isinstance(error, Mapping):
        # The vendor's own client reads this nested shape: {"error": {"code": "...", "message": "..."}}.
        code = _text(error.get("code"))
        message = _text(error.get("message")) or message
        error = code
    if isinstance(message, str) and message:
        parts.append(f"{error}: {message}" if isinstance(error, str) and error else message)
    elif isinstance(error, str) and error:
        parts.append(error)
    return ("; ".join(parts) or fallback), [], code


def _text(value: object) -> str | None:
    """A non-empty string or number from an error body, as text; None otherwise."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        return None
    return str(value) or None


def redirect_for_response(
    status_code: int, method: str, path: str, location: str | None, redactor: Redactor | None = None
) -> SixtyfourRedirectError:
    """Build the exception for a 3xx answer: it names the status and the host ``Location`` points to
    (never its path's query or userinfo)."""
    host = url_host(location.strip()) if location and location.strip() else None
    if host is None:
        target = "a redirect without a Location"
    elif host == "<no host>":
        target = "a redirect to another path on the same host"
    else:
        target = f"a redirect to {host}"
    if redactor is not None:
        target = redactor.text(target)
    return SixtyfourRedirectError(status_code, method, path, f"{target}, not followed")


def error_for_response(
    status_code: int,
    method: str,
    path: str,
    body: bytes,
    *,
    reason: str = "",
    retry_after: float | None = None,
    note: str = "",
    redactor: Redactor | None = None,
) -> SixtyfourApiError:
    """Build the exception for an HTTP error answer (status >= 400); ``redactor`` masks what the body echoes."""
    api_message, details, code = read_api_error(body, reason, redactor)
    cls = _BY_STATUS.get(status_code)
    if cls is None:
        cls = SixtyfourServerError if status_code >= 500 else SixtyfourApiError
    return cls(status_code, method, path, api_message, details=details, retry_after=retry_after, code=code, note=note)
