"""The shared retry loop, stepped by hand: what it sends, how long it waits, when it gives up.

No network here: the loop does no I/O, so a test can answer each ``Send`` itself and read each ``Wait``.
The transports that drive it over real HTTP are tested against the emulator in ``test_hook_*.py``.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import re
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest

from airflow_provider_sixtyfour.hooks.outcomes import (
    Answer,
    BodyCollector,
    NoAnswer,
    Outcome,
    Unreadable,
    Unsendable,
    no_answer,
)
from airflow_provider_sixtyfour.hooks.retrying import (
    Send,
    Wait,
    WaitLimits,
    call_steps,
    drive,
)
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourNotFoundError,
    SixtyfourRateLimitError,
    SixtyfourRequestError,
    SixtyfourResponseError,
    SixtyfourServerError,
    SixtyfourTransportError,
)
from airflow_provider_sixtyfour.protocol.redaction import Redactor
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy

log = logging.getLogger("tests.retrying")
JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
WORKFLOWS = json.dumps([{"id": "wf-1", "name": "A", "status": "ready", "step": "x"}]).encode()


def play(
    call: endpoints.ApiCall[Any], outcomes: Iterable[Outcome], policy: RetryPolicy, gate: RateLimitGate | None = None
):
    """Run the loop, answering each Send with the next outcome; return (result or exception, steps seen)."""
    answers = iter(outcomes)
    steps: list[Send | Wait] = []
    gen = call_steps(call, policy, gate or RateLimitGate(), log)
    reply: Outcome | None = None
    try:
        while True:
            step = gen.send(reply)
            steps.append(step)
            reply = next(answers) if isinstance(step, Send) else None
    except StopIteration as done:
        return done.value, steps
    except Exception as err:
        return err, steps


def sends(steps: list[Send | Wait]) -> int:
    return sum(isinstance(s, Send) for s in steps)


def waits(steps: list[Send | Wait]) -> list[float]:
    return [s.seconds for s in steps if isinstance(s, Wait)]


def test_success_first_time() -> None:
    result, steps = play(endpoints.list_workflows(), [Answer(200, WORKFLOWS)], RetryPolicy())
    assert [w.id for w in result] == ["wf-1"]
    assert steps == [Send(1)]


def test_server_errors_retried_then_success(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=log.name)
    outcomes = [Answer(503, b'{"detail":"busy"}'), Answer(502, b""), Answer(200, WORKFLOWS)]
    result, steps = play(endpoints.list_workflows(), outcomes, RetryPolicy(backoff_base=0.2))
    assert len(result) == 1
    assert [s for s in steps if isinstance(s, Send)] == [Send(1), Send(2), Send(3)]
    first, second = waits(steps)
    assert 0.1 <= first <= 0.2
    assert 0.2 <= second <= 0.4
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert messages[0].startswith("Sixtyfour GET /workflows answered HTTP 503; retry 1 of 5 in ")
    assert "HTTP 502; retry 2 of 5" in messages[1]


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_client_errors_are_raised_at_once(status: int) -> None:
    err, steps = play(endpoints.get_workflow("wf-x"), [Answer(status, b'{"detail":"no"}')], RetryPolicy())
    assert steps == [Send(1)]
    assert getattr(err, "status_code", None) == status


def test_budget_exhausted_raises_last_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=log.name)
    err, steps = play(endpoints.list_workflows(), [Answer(500, b'{"detail":"down"}')] * 3, RetryPolicy(max_attempts=3))
    assert isinstance(err, SixtyfourServerError)
    assert "HTTP 500: down" in str(err)
    assert sends(steps) == 3
    assert "giving up after 3 attempts" in caplog.text


def test_retry_after_is_waited() -> None:
    outcomes = [Answer(429, b"{}", {"Retry-After": "3"}), Answer(200, WORKFLOWS)]
    _, steps = play(endpoints.list_workflows(), outcomes, RetryPolicy(backoff_base=0.01))
    assert sends(steps) == 2
    assert waits(steps)[0] >= 3.0


def test_retry_after_too_long_gives_up_with_rate_limit_error() -> None:
    outcomes = [Answer(429, b'{"detail":"slow down"}', {"Retry-After": "900"})]
    err, steps = play(endpoints.list_workflows(), outcomes, RetryPolicy(max_wait=60))
    assert isinstance(err, SixtyfourRateLimitError)
    assert err.retry_after == 900.0
    assert sends(steps) == 1


def test_transport_errors_retried_then_raised() -> None:
    outcomes = [NoAnswer("ConnectionError: Connection refused")] * 4
    err, steps = play(endpoints.list_workflows(), outcomes, RetryPolicy(max_attempts=4, backoff_base=0.01))
    assert isinstance(err, SixtyfourTransportError)
    assert (
        str(err)
        == "GET /workflows failed before an answer arrived: ConnectionError: Connection refused (after 4 attempts)"
    )
    assert sends(steps) == 4
    assert len(waits(steps)) == 3


def test_lost_answer_then_success() -> None:
    outcomes = [NoAnswer("reset"), Answer(200, WORKFLOWS)]
    result, steps = play(endpoints.list_workflows(), outcomes, RetryPolicy(backoff_base=0.01))
    assert len(result) == 1
    assert sends(steps) == 2


def test_run_start_is_resent_with_the_same_idempotency_key() -> None:
    call = endpoints.run_workflow("wf-1", idempotency_key="key-1")
    started = json.dumps(
        {"status": "queued", "workflow_id": "wf-1", "job_id": JOB_ID, "already_started": True}
    ).encode()
    result, steps = play(call, [NoAnswer("reset"), Answer(200, started)], RetryPolicy(backoff_base=0.01))
    assert result.already_started
    assert sends(steps) == 2
    # The call object (headers included) is the same for every attempt: one key for all retries.
    assert call.headers[endpoints.IDEMPOTENCY_KEY_HEADER] == "key-1"


def test_upload_is_rewound_before_a_resend() -> None:
    content = io.BytesIO(b"skip-me|name\nAda\n")
    content.seek(8)
    call = endpoints.upload_csv("leads.csv", content)
    gen = call_steps(call, RetryPolicy(backoff_base=0.01), RateLimitGate(), log)
    assert gen.send(None) == Send(1)
    assert content.read() == b"name\nAda\n"  # the transport consumed the stream
    assert isinstance(gen.send(Answer(503, b"")), Wait)
    assert gen.send(None) == Send(2)
    assert content.tell() == 8
    with pytest.raises(StopIteration) as done:
        gen.send(Answer(200, b'{"handle_id": "h-1"}'))
    assert done.value.value == "h-1"


class _Pipe(io.RawIOBase):
    """A stream that cannot seek, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_unrewindable_upload_is_not_resent() -> None:
    call = endpoints.upload_csv("leads.csv", _Pipe(b"a\n1\n"))  # type: ignore[arg-type]
    err, steps = play(call, [Answer(503, b"")], RetryPolicy())
    assert isinstance(err, SixtyfourServerError)
    assert sends(steps) == 1
    err, steps = play(endpoints.upload_csv("x.csv", _Pipe(b"a")), [NoAnswer("reset")], RetryPolicy())  # type: ignore[arg-type]
    assert isinstance(err, SixtyfourTransportError)
    assert sends(steps) == 1


def test_gate_pauses_the_next_call_after_an_exhausted_window() -> None:
    gate = RateLimitGate()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "5"}
    result, steps = play(endpoints.list_workflows(), [Answer(200, WORKFLOWS, headers)], RetryPolicy(), gate)
    assert len(result) == 1
    assert steps == [Send(1)]
    _, steps = play(endpoints.list_workflows(), [Answer(200, WORKFLOWS)], RetryPolicy(), gate)
    assert isinstance(steps[0], Wait)
    assert 4.0 < steps[0].seconds <= 5.0
    assert steps[1] == Send(1)


def test_drive_runs_the_loop_with_real_sleeps() -> None:
    outcomes = iter([Answer(503, b""), Answer(404, b'{"detail": "Workflow not found"}')])
    with pytest.raises(SixtyfourNotFoundError, match="HTTP 404: Workflow not found"):
        drive(
            call_steps(endpoints.get_workflow("wf-x"), RetryPolicy(backoff_base=0.001), RateLimitGate(), log),
            lambda attempt: next(outcomes),
        )


def test_no_answer_describes_the_innermost_cause() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except OSError as inner:
            raise RuntimeError("GET http://h/x?token=abc failed") from inner
    except RuntimeError as outer:
        described = no_answer(outer)
    assert described.reason == "RuntimeError: ConnectionRefusedError: Connection refused"
    assert no_answer(ValueError("see http://h/x?sig=abc")).reason == "ValueError: see http://h/x?<redacted>"


# -- issue 11: waits cut short, outcomes that are not answers, capped bodies -------------------------


def test_a_wait_past_the_deadline_is_not_started() -> None:
    limits = WaitLimits(deadline=time.time() + 5)
    outcomes = [Answer(429, b'{"detail": "slow"}', {"Retry-After": "60"})]
    err, steps = play_with(endpoints.list_workflows(), outcomes, RetryPolicy(), limits=limits)
    assert isinstance(err, SixtyfourRateLimitError)
    assert steps == [Send(1)]
    # The told 60 s, plus the gate's small margin.
    assert re.search(r"HTTP 429: slow\. Not retried: waiting 6[01](\.\d+)? s would pass", str(err)), str(err)
    assert err.wait_refused is not None
    assert "would pass the task's deadline" in err.wait_refused


def test_a_wait_within_the_deadline_goes_ahead() -> None:
    limits = WaitLimits(deadline=time.time() + 600)
    outcomes = [Answer(429, b"{}", {"Retry-After": "60"}), Answer(200, WORKFLOWS)]
    result, steps = play_with(endpoints.list_workflows(), outcomes, RetryPolicy(), limits=limits)
    assert len(result) == 1
    assert sends(steps) == 2


def test_a_set_stop_event_refuses_every_wait() -> None:
    stop = threading.Event()
    stop.set()
    limits = WaitLimits(stop=stop)
    err, steps = play_with(endpoints.list_workflows(), [NoAnswer("reset")], RetryPolicy(), limits=limits)
    assert isinstance(err, SixtyfourTransportError)
    assert str(err).endswith("reset; not retried: the task is being stopped")
    assert err.wait_refused == "the task is being stopped"
    gate = RateLimitGate()
    gate.observe(429, {"Retry-After": "30"})
    err, steps = play_with(endpoints.list_workflows(), [], RetryPolicy(), gate=gate, limits=limits)
    assert isinstance(err, SixtyfourTransportError)
    assert "not sent: the API's rate limit asks to wait" in str(err)
    assert steps == []


def test_a_stop_during_a_wait_ends_the_call_after_it() -> None:
    stop = threading.Event()
    limits = WaitLimits(stop=stop)
    gen = call_steps(endpoints.list_workflows(), RetryPolicy(), RateLimitGate(), log, limits=limits)
    assert gen.send(None) == Send(1)
    assert isinstance(gen.send(Answer(503, b'{"detail": "busy"}')), Wait)
    stop.set()  # what on_kill does while the driver sleeps (WaitLimits.sleep returns at once)
    with pytest.raises(SixtyfourServerError, match=r"HTTP 503: busy. Not retried: the task is being stopped"):
        gen.send(None)


def test_outcomes_that_are_not_answers_are_never_retried() -> None:
    err, steps = play(endpoints.list_workflows(), [Unsendable("InvalidSchema: ftp")], RetryPolicy())
    assert isinstance(err, SixtyfourRequestError)
    assert steps == [Send(1)]
    err, steps = play(endpoints.list_workflows(), [Unreadable("its body could not be decoded")], RetryPolicy())
    assert isinstance(err, SixtyfourResponseError)
    assert steps == [Send(1)]


def test_a_truncated_success_is_an_error_and_a_truncated_error_is_still_that_error() -> None:
    big = Answer(200, b"[" * 10, {"Content-Length": str(2**40)}, truncated=True)
    err, _ = play(endpoints.list_workflows(), [big], RetryPolicy())
    assert isinstance(err, SixtyfourResponseError)
    assert "the answer is 1099511627776 bytes (Content-Length)" in str(err)
    cut_error = Answer(404, b"<html>" * 100, {}, "Not Found", truncated=True)
    err, _ = play(endpoints.list_workflows(), [cut_error], RetryPolicy())
    assert isinstance(err, SixtyfourNotFoundError)


def test_the_body_collector_stops_at_its_limit() -> None:
    collector = BodyCollector({}, limit=10)
    assert collector.add(b"12345")
    assert not collector.add(b"678901")
    answer = collector.answer(200, {}, "OK")
    assert answer.truncated
    assert answer.body == b"12345678901"
    assert not BodyCollector({"content-length": "11"}, limit=10).wants_more
    whole = BodyCollector({"Content-Length": "3"}, limit=10)
    whole.add(b"abc")
    assert whole.answer(200, {}, "") == Answer(200, b"abc", {}, "", False)


def test_an_echoed_key_is_masked_in_the_retry_log_and_the_error(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=log.name)
    key = "sk-live-0123456789abcdef"
    outcomes = [NoAnswer(f"BadStatusLine: HTTP/1.1 2OO {key}")] * 2
    err, _ = play_with(
        endpoints.list_workflows(), outcomes, RetryPolicy(max_attempts=2, backoff_base=0.01), redactor=Redactor([key])
    )
    assert key not in str(err)
    assert "2OO ***" in str(err)
    assert key not in caplog.text


def play_with(
    call: endpoints.ApiCall[Any],
    outcomes: Iterable[Outcome],
    policy: RetryPolicy,
    gate: RateLimitGate | None = None,
    **kwargs: Any,
):
    """:func:`play` with ``call_steps`` keyword arguments (``limits``, ``redactor``)."""
    answers = iter(outcomes)
    steps: list[Send | Wait] = []
    gen = call_steps(call, policy, gate or RateLimitGate(), log, **kwargs)
    reply: Outcome | None = None
    try:
        while True:
            step = gen.send(reply)
            steps.append(step)
            reply = next(answers) if isinstance(step, Send) else None
    except StopIteration as done:
        return done.value, steps
    except Exception as err:
        return err, steps


# -- 429s are budgeted by time, not by attempts (the distributed drill's finding f) ----------------


def retry_delays(steps: list[Send | Wait]) -> list[float]:
    """The waits the loop chose after an answer (the gate's pauses before a send left out)."""
    return [b.seconds for a, b in itertools.pairwise(steps) if isinstance(a, Send) and isinstance(b, Wait)]


def test_429s_told_short_waits_are_retried_past_the_attempt_count_with_growing_waits() -> None:
    # Twenty processes on one key: the window answers "1 s" again and again. Eight 429s: even the longest
    # jittered waits (1+2+4+8+16+30+30+30 s, plus 1 s each on the told wait) stay inside the 180 s budget,
    # where twelve could pass it by chance (they failed a CI run that way).
    outcomes = [Answer(429, b'{"detail":"slow down"}', {"Retry-After": "1"})] * 8 + [Answer(200, WORKFLOWS)]
    result, steps = play(endpoints.list_workflows(), outcomes, RetryPolicy(max_attempts=3))
    assert [w.id for w in result] == ["wf-1"]
    assert sends(steps) == 9
    assert sum(retry_delays(steps)) <= RetryPolicy().rate_limit_budget
    delays = retry_delays(steps)
    assert all(d >= 1.0 for d in delays)  # the told wait is a floor...
    assert max(delays) > 8.0  # ...and the backoff grows above it
    assert max(delays) <= RetryPolicy().backoff_max + 1


def test_429s_end_once_the_time_budget_is_spent() -> None:
    policy = RetryPolicy(max_attempts=3, rate_limit_budget=20.0)
    err, steps = play(endpoints.list_workflows(), [Answer(429, b'{"detail":"slow down"}')] * 100, policy)
    assert isinstance(err, SixtyfourRateLimitError)
    assert "Still rate limited after waiting" in str(err)
    delays = retry_delays(steps)
    assert sum(delays) >= 20.0
    assert sum(delays[:-1]) < 20.0
    assert sends(steps) == len(delays) + 1


def test_429s_do_not_use_up_the_attempts_of_other_errors() -> None:
    limited = [Answer(429, b"{}", {"Retry-After": "0"})] * 5
    policy = RetryPolicy(max_attempts=3, backoff_base=0.01)
    result, steps = play(
        endpoints.list_workflows(), [*limited, Answer(500, b"{}"), Answer(500, b"{}"), Answer(200, WORKFLOWS)], policy
    )
    assert [w.id for w in result] == ["wf-1"]
    err, steps = play(endpoints.list_workflows(), [*limited, *[Answer(500, b'{"detail":"down"}')] * 3], policy)
    assert isinstance(err, SixtyfourServerError)
    assert sends(steps) == 8


@pytest.mark.parametrize(
    ("policy", "tries"),
    [(RetryPolicy(max_attempts=3, backoff_base=0.01, rate_limit_budget=0), 3), (RetryPolicy(max_attempts=1), 1)],
    ids=["no-budget-counts-attempts", "retries-disabled"],
)
def test_without_a_time_budget_429s_count_as_attempts(policy: RetryPolicy, tries: int) -> None:
    err, steps = play(endpoints.list_workflows(), [Answer(429, b"{}", {"Retry-After": "0"})] * 10, policy)
    assert isinstance(err, SixtyfourRateLimitError)
    assert sends(steps) == tries
