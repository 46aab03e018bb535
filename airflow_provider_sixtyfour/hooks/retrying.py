"""The retry loop of one API call, written once and driven by both transports.

:func:`call_steps` is a generator that decides everything: when to send, how long to wait, when to
give up, and how to read the final answer. It yields :class:`Send` (the transport sends the request
once and passes back an :class:`Answer` or a :class:`NoAnswer`) and :class:`Wait` (the transport
sleeps, with ``time.sleep`` or ``asyncio.sleep``). :func:`drive` and :func:`adrive` are the two
thin drivers. The loop itself does no network I/O, so the sync hook and the async hook cannot drift.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from airflow_provider_sixtyfour.protocol.answers import read_answer
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.errors import SixtyfourTransportError
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy

T = TypeVar("T")


class LogLike(Protocol):
    """What the loop needs of a logger: a stdlib ``logging.Logger`` or Airflow 3's structlog logger."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, whatever its status."""

    status_code: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class NoAnswer:
    """The request got no HTTP answer (refused, reset, timed out); ``reason`` is safe to log."""

    reason: str


@dataclass(frozen=True)
class Send:
    """Step: send the request now (``attempt`` counts from 1)."""

    attempt: int


@dataclass(frozen=True)
class Wait:
    """Step: sleep this many seconds, then resume the loop."""

    seconds: float


Step = Send | Wait
Outcome = Answer | NoAnswer
Steps = Generator[Step, Outcome | None, T]


_QUERY = re.compile(r"\?\S*")


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
    return NoAnswer(f"{reason}: {_QUERY.sub('?<redacted>', detail)[:300]}")


def call_steps(call: ApiCall[T], policy: RetryPolicy, gate: RateLimitGate, log: LogLike) -> Steps[T]:
    """The whole life of one API call, as steps for a transport to carry out.

    Retries 429, 5xx and transport failures per ``policy`` (``Retry-After`` honoured), waits when the
    shared ``gate`` says the rate limit is exhausted, rewinds an upload before sending it again, and
    returns the parsed record or raises the mapped :mod:`~airflow_provider_sixtyfour.protocol.errors`
    exception. A call is retried only when it is safe to send again (``call.retry_safe``, and an
    upload stream can be rewound).
    """
    content = call.upload.content if call.upload is not None else None
    seekable = content is not None and callable(getattr(content, "seekable", None)) and content.seekable()
    rewind_to = content.tell() if content is not None and seekable else None
    resendable = call.retry_safe and (content is None or rewind_to is not None)
    retries_allowed = policy.max_attempts - 1
    attempt = 0
    while True:
        attempt += 1
        pause = gate.delay()
        while pause > 0:
            log.info("Sixtyfour rate limit reached: waiting %.2f s before %s", pause, call.describe())
            waited_for = gate.not_before
            yield Wait(pause)
            # Another request's answer may have pushed the gate further while this one waited.
            pause = gate.delay() if gate.not_before > waited_for else 0.0
        if attempt > 1 and content is not None and rewind_to is not None:
            content.seek(rewind_to)
        outcome = yield Send(attempt)
        if isinstance(outcome, NoAnswer):
            delay = policy.delay_after_transport_error(attempt, resendable)
            if delay is None:
                tries = f" (after {attempt} attempts)" if attempt > 1 else ""
                raise SixtyfourTransportError(call.method, call.path, outcome.reason + tries)
            log.warning(
                "Sixtyfour %s got no answer (%s); retry %d of %d in %.2f s",
                call.describe(),
                outcome.reason,
                attempt,
                retries_allowed,
                delay,
            )
            yield Wait(delay)
            continue
        if outcome is None:
            raise RuntimeError("call_steps: a Send step must be answered with an Answer or a NoAnswer")
        gate.observe(outcome.status_code, outcome.headers)
        if outcome.status_code >= 400 and resendable:
            retry_delay = policy.delay_after_status(attempt, outcome.status_code, outcome.headers)
            if retry_delay is not None:
                log.warning(
                    "Sixtyfour %s answered HTTP %d; retry %d of %d in %.2f s",
                    call.describe(),
                    outcome.status_code,
                    attempt,
                    retries_allowed,
                    retry_delay,
                )
                yield Wait(retry_delay)
                continue
            if attempt > 1:
                log.warning("Sixtyfour %s: giving up after %d attempts", call.describe(), attempt)
        return read_answer(call, outcome.status_code, outcome.body, outcome.headers, outcome.reason)


def drive(steps: Steps[T], send: Callable[[int], Outcome]) -> T:
    """Carry out ``steps`` with blocking I/O: ``send(attempt)`` sends once, waits use ``time.sleep``."""
    reply: Outcome | None = None
    while True:
        try:
            step = steps.send(reply)
        except StopIteration as done:
            return done.value
        if isinstance(step, Wait):
            time.sleep(step.seconds)
            reply = None
        else:
            reply = send(step.attempt)


async def adrive(steps: Steps[T], send: Callable[[int], Awaitable[Outcome]]) -> T:
    """Carry out ``steps`` in an event loop: ``await send(attempt)``, waits use ``asyncio.sleep``."""
    reply: Outcome | None = None
    while True:
        try:
            step = steps.send(reply)
        except StopIteration as done:
            return done.value
        if isinstance(step, Wait):
            await asyncio.sleep(step.seconds)
            reply = None
        else:
            reply = await send(step.attempt)
