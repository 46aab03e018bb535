"""What a transport passes back to the retry loop for one send: an answer, or why there is none.

:class:`Answer` (any HTTP status, its body read up to the answer cap by a :class:`BodyCollector`),
:class:`NoAnswer` (retried when safe), :class:`Unsendable` and :class:`Unreadable` (never retried).
Both transports build these and :func:`~airflow_provider_sixtyfour.hooks.retrying.call_steps` reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from airflow_provider_sixtyfour.protocol.answers import MAX_ANSWER_BYTES
from airflow_provider_sixtyfour.protocol.redaction import redact_queries_in


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, whatever its status.

    :param truncated: the transport stopped reading at the answer cap, so ``body`` is only its start
        (or empty, when ``Content-Length`` already said it was too large).
    """

    status_code: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""
    truncated: bool = False


class BodyCollector:
    """Gathers an answer's body as a transport reads it, up to ``limit`` bytes (then says stop).

    :param headers: the answer's headers; a ``Content-Length`` over ``limit`` stops it before any read.
    :param limit: the most bytes kept.
    """

    def __init__(self, headers: Mapping[str, str], limit: int = MAX_ANSWER_BYTES) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._limit = limit
        told = content_length(headers)
        self.truncated = told is not None and told > limit

    @property
    def wants_more(self) -> bool:
        """False once the limit is passed (or was announced): stop reading."""
        return not self.truncated

    def add(self, chunk: bytes) -> bool:
        """Keep ``chunk``; returns whether to read on."""
        self._parts.append(chunk)
        self._size += len(chunk)
        if self._size > self._limit:
            self.truncated = True
        return not self.truncated

    def answer(self, status_code: int, headers: Mapping[str, str], reason: str) -> Answer:
        """The :class:`Answer` with what was gathered."""
        body = self._parts[0] if len(self._parts) == 1 else b"".join(self._parts)
        return Answer(status_code, body[: self._limit + 1], headers, reason, self.truncated)


@dataclass(frozen=True)
class _Failure:
    """An outcome without an answer to read, and why."""

    reason: str


class NoAnswer(_Failure):
    """The request got no (whole) HTTP answer (refused, reset, timed out); retried when safe."""


class Unsendable(_Failure):
    """The request could not be sent as built (an invalid URL or header, an odd scheme); never retried."""


class Unreadable(_Failure):
    """An answer arrived but its body cannot be read (e.g. a broken ``Content-Encoding``); not retried."""


#: What a transport passes back for one :class:`~airflow_provider_sixtyfour.hooks.retrying.Send` step.
Outcome = Answer | NoAnswer | Unsendable | Unreadable


def no_answer(exc: BaseException) -> NoAnswer:
    """Describe a transport exception briefly: its class and the innermost OS-level cause (no URL query strings)."""
    chain = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
        chain.append(nxt)
    # The deepest OSError says what happened on the wire (refused, reset, timed out); else the innermost.
    root = next((e for e in reversed(chain[1:]) if isinstance(e, OSError)), chain[-1])
    if isinstance(root, OSError) and root.strerror:
        detail = root.strerror
    else:
        detail = str(root).strip() or ("timed out" if isinstance(root, TimeoutError) else "no details")
    reason = type(exc).__name__ if root is exc else f"{type(exc).__name__}: {type(root).__name__}"
    return NoAnswer(f"{reason}: {redact_queries_in(detail)[:300]}")


def content_length(headers: Mapping[str, str]) -> int | None:
    """The ``Content-Length`` header as a number; None when absent or not a number."""
    for key, value in headers.items():
        if key.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
