"""The retry loop of one API call, written once and driven by both transports.

:func:`call_steps` is a generator that decides everything: when to send, how long to wait, when to
give up, and how to read the final answer. It yields :class:`Send` (the transport sends the request
once and passes back an :class:`Answer` or a :class:`NoAnswer`) and :class:`Wait` (the transport
sleeps, with an interruptible ``Event.wait`` or ``asyncio.sleep``). :func:`drive` and :func:`adrive`
are the two thin drivers. The loop itself does no network I/O, so the sync hook and the async hook
cannot drift.

Every wait is bounded: a told wait longer than the policy's ``max_wait`` ends the call at once, and
:class:`WaitLimits` cut waits short when the task is stopping (``on_kill``) or where they would pass
the task's deadline. Whatever an answer echoes of the API key is masked before it is logged or raised.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from airflow_provider_sixtyfour.protocol.answers import MAX_ANSWER_BYTES, answer_too_large, read_answer
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourError,
    SixtyfourRequestError,
    SixtyfourResponseError,
    SixtyfourTransportError,
)
from airflow_provider_sixtyfour.protocol.redaction import Redactor, redact_queries_in
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy

T = TypeVar("T")


class LogLike(Protocol):
    """What the loop needs of a logger: a stdlib ``logging.Logger`` or Airflow 3's structlog logger."""

    def info(self, event: Any, *args: Any, **kw: Any) -> Any: ...

    def warning(self, event: Any, *args: Any, **kw: Any) -> Any: ...


#: Answers larger than this are parsed in a worker thread by :func:`adrive`, off the event loop. Far
#: above the poller's 500-run lists (about 0.3 MiB): handing those to a thread, where they compete for
#: the GIL with thousands of triggers, slowed each polling cycle more than their parse blocks the loop.
OFF_LOOP_PARSE_BYTES = 4 * 1024 * 1024


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
        told = _content_length(headers)
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
class NoAnswer:
    """The request got no (whole) HTTP answer (refused, reset, timed out); retried when safe."""

    reason: str


@dataclass(frozen=True)
class Unsendable:
    """The request could not be sent as built (an invalid URL or header, an odd scheme); never retried."""

    reason: str


@dataclass(frozen=True)
class Unreadable:
    """An answer arrived but its body cannot be read (e.g. a broken ``Content-Encoding``); not retried."""

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
Outcome = Answer | NoAnswer | Unsendable | Unreadable
Steps = Generator[Step, Outcome | None, T]


STOPPING = "the task is being stopped"


@dataclass
class WaitLimits:
    """What cuts a call's waits short: a stop event (set by ``on_kill``) and a deadline.

    A wait that would pass the deadline is not started: the call fails at once (with the answer that
    asked for the wait), so the task can act on its deadline instead of sleeping past it.

    :param stop: when set, waits end and the call fails.
    :param deadline: absolute time (epoch seconds) no wait may pass, or None.
    """

    stop: threading.Event | None = None
    deadline: float | None = None

    def stopping(self) -> bool:
        """True once ``stop`` is set."""
        return self.stop is not None and self.stop.is_set()

    def refusal(self, seconds: float, now: float | None = None) -> str | None:
        """Why a wait of ``seconds`` may not happen now, or None when it may."""
        if self.stopping():
            return STOPPING
        if self.deadline is not None:
            left = self.deadline - (time.time() if now is None else now)
            if seconds > left:
                return f"waiting {seconds:.1f} s would pass the task's deadline ({max(0.0, left):.1f} s away)"
        return None

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less if ``stop`` is set meanwhile."""
        if self.stop is None:
            time.sleep(seconds)
        else:
            self.stop.wait(seconds)


_NO_LIMITS = WaitLimits()
_NO_SECRETS = Redactor()


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


def call_steps(
    call: ApiCall[T],
    policy: RetryPolicy,
    gate: RateLimitGate,
    log: LogLike,
    *,
    limits: WaitLimits | None = None,
    redactor: Redactor | None = None,
) -> Steps[T]:
    """The whole life of one API call, as steps for a transport to carry out.

    Retries 429, 5xx and transport failures per ``policy`` (``Retry-After`` honoured up to
    ``max_wait``; 429s retried until ``rate_limit_budget`` seconds were spent waiting on them, not
    counted against ``max_attempts``), waits when the shared
    ``gate`` says the rate limit is exhausted, rewinds an upload before sending it again, and returns
    the parsed record or raises the mapped :mod:`~airflow_provider_sixtyfour.protocol.errors`
    exception. A call is retried only when it is safe to send again (``call.retry_safe``, and an
    upload stream can be rewound). ``limits`` cut waits short; ``redactor`` masks the connection's
    secrets in whatever is logged or raised.
    """
    limits = limits or _NO_LIMITS
    redact = redactor or _NO_SECRETS
    content = call.upload.content if call.upload is not None else None
    seekable = content is not None and callable(getattr(content, "seekable", None)) and content.seekable()
    rewind_to = content.tell() if content is not None and seekable else None
    resendable = call.retry_safe and (content is None or rewind_to is not None)
    retries_allowed = policy.max_attempts - 1
    waited_on_429 = 0.0
    limited = 0  # 429 answers so far; under a time budget they do not count against max_attempts
    attempt = 0
    while True:
        attempt += 1
        pause = gate.delay()
        while pause > 0:
            refused = limits.refusal(pause)
            if refused:
                raise _cut(
                    SixtyfourTransportError(
                        call.method,
                        call.path,
                        f"not sent: the API's rate limit asks to wait {pause:.1f} s, but {refused}",
                    ),
                    refused,
                )
            log.info("Sixtyfour rate limit reached: waiting %.2f s before %s", pause, call.describe())
            waited_for = gate.not_before
            yield Wait(pause)
            if limits.stopping():
                raise _cut(SixtyfourTransportError(call.method, call.path, f"not sent: {STOPPING}"), STOPPING)
            # Another request's answer may have pushed the gate further while this one waited.
            pause = gate.delay() if gate.not_before > waited_for else 0.0
        if attempt > 1 and content is not None and rewind_to is not None:
            content.seek(rewind_to)
        outcome = yield Send(attempt)
        if isinstance(outcome, Unsendable):
            raise SixtyfourRequestError(call.method, call.path, redact.text(outcome.reason))
        if isinstance(outcome, Unreadable):
            raise SixtyfourResponseError(call.method, call.path, redact.text(outcome.reason))
        if isinstance(outcome, NoAnswer):
            reason = redact.text(outcome.reason)
            delay = policy.delay_after_transport_error(attempt, resendable)
            refused = None if delay is None else limits.refusal(delay)
            if delay is not None and not refused:
                log.warning(
                    "Sixtyfour %s got no answer (%s); retry %d of %d in %.2f s",
                    call.describe(),
                    reason,
                    attempt,
                    retries_allowed,
                    delay,
                )
                yield Wait(delay)
                if not limits.stopping():
                    continue
                refused = STOPPING
            tries = f" (after {attempt} attempts)" if attempt > 1 else ""
            cut = f"; not retried: {refused}" if refused else ""
            raise _cut(SixtyfourTransportError(call.method, call.path, reason + tries + cut), refused)
        if outcome is None:
            raise RuntimeError("call_steps: a Send step must be answered with an outcome")
        ignored = gate.observe(outcome.status_code, outcome.headers)
        if ignored is not None and outcome.status_code < 400:
            log.warning(
                "Sixtyfour %s said to wait %.0f s before the next request, longer than the %.0f s this provider "
                "waits at most: ignored",
                call.describe(),
                ignored,
                policy.max_wait,
            )
        note = ""
        refused = None
        if outcome.status_code >= 400 and resendable:
            by_time = outcome.status_code == 429 and policy.budgets_429s
            limited += outcome.status_code == 429
            counted = limited if by_time else attempt - (limited if policy.budgets_429s else 0)
            retry_delay = policy.delay_after_status(
                counted, outcome.status_code, outcome.headers, waited_on_429=waited_on_429
            )
            refused = None if retry_delay is None else limits.refusal(retry_delay)
            if retry_delay is not None and not refused:
                of = (
                    f"(rate limited; {waited_on_429:.0f} of {policy.rate_limit_budget:.0f} s waited on 429s so far)"
                    if by_time
                    else f"of {retries_allowed}"
                )
                log.warning(
                    "Sixtyfour %s answered HTTP %d; retry %d %s in %.2f s",
                    call.describe(),
                    outcome.status_code,
                    counted,
                    of,
                    retry_delay,
                )
                if outcome.status_code == 429:
                    waited_on_429 += retry_delay
                yield Wait(retry_delay)
                if not limits.stopping():
                    continue
                refused = STOPPING
            if refused:
                note = f"Not retried: {refused}"
            else:
                note = (
                    policy.wait_refusal(outcome.status_code, outcome.headers)
                    or policy.rate_limit_spent(outcome.status_code, waited_on_429)
                    or ""
                )
            if attempt > 1:
                log.warning("Sixtyfour %s: giving up after %d attempts", call.describe(), attempt)
        if outcome.truncated and 200 <= outcome.status_code < 300:
            raise answer_too_large(call, _content_length(outcome.headers))
        try:
            return read_answer(
                call, outcome.status_code, outcome.body, outcome.headers, outcome.reason, note=note, redactor=redact
            )
        except SixtyfourError as err:
            _cut(err, refused)
            raise


def _cut(error: SixtyfourError, refused: str | None) -> SixtyfourError:
    """Mark ``error`` as raised instead of a wait that ``refused`` says could not happen (see ``wait_refused``)."""
    if refused:
        error.wait_refused = refused
    return error


def _content_length(headers: Mapping[str, str]) -> int | None:
    for key, value in headers.items():
        if key.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def drive(steps: Steps[T], send: Callable[[int], Outcome], sleep: Callable[[float], object] = time.sleep) -> T:
    """Carry out ``steps`` with blocking I/O: ``send(attempt)`` sends once, waits use ``sleep``
    (``WaitLimits.sleep`` makes them interruptible)."""
    reply: Outcome | None = None
    while True:
        try:
            step = steps.send(reply)
        except StopIteration as done:
            return done.value
        if isinstance(step, Wait):
            sleep(step.seconds)
            reply = None
        else:
            reply = send(step.attempt)


def _advance(steps: Steps[T], reply: Outcome | None) -> tuple[Step | None, T | None]:
    """One step of ``steps``: ``(step, None)``, or ``(None, result)`` when the loop has ended."""
    try:
        return steps.send(reply), None
    except StopIteration as done:
        return None, done.value


async def adrive(steps: Steps[T], send: Callable[[int], Awaitable[Outcome]]) -> T:
    """Carry out ``steps`` in an event loop: ``await send(attempt)``, waits use ``asyncio.sleep``.

    An answer larger than :data:`OFF_LOOP_PARSE_BYTES` is parsed in a worker thread, so a big run
    list does not hold up every other trigger on the loop.
    """
    reply: Outcome | None = None
    while True:
        if isinstance(reply, Answer) and len(reply.body) > OFF_LOOP_PARSE_BYTES:
            step, result = await asyncio.to_thread(_advance, steps, reply)
        else:
            step, result = _advance(steps, reply)
        if step is None:
            return result  # type: ignore[return-value]
        if isinstance(step, Wait):
            await asyncio.sleep(step.seconds)
            reply = None
        else:
            reply = await send(step.attempt)
