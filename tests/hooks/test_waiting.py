"""The one blocking wait for a run's end, with a fake hook (no HTTP)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

import pytest

from airflow_provider_sixtyfour.hooks.waiting import (
    MAX_CONSECUTIVE_POLL_FAILURES,
    RunWaitStopped,
    RunWaitTimedOut,
    wait_for_run_end,
)
from airflow_provider_sixtyfour.protocol.errors import SixtyfourRateLimitError, SixtyfourServerError
from airflow_provider_sixtyfour.protocol.models import LiveStatus

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
LOG = logging.getLogger("test_waiting")


def live(status: str) -> LiveStatus:
    return LiveStatus.from_api({"run_id": JOB, "workflow_id": "wf", "overall_status": status})


def server_error() -> SixtyfourServerError:
    return SixtyfourServerError(503, "GET", "/live_status", "busy")


class FakeHook:
    """Answers each poll with the next of ``answers`` (the last one again once they run out)."""

    def __init__(self, answers: Iterable[LiveStatus | Exception]) -> None:
        self.answers = list(answers)
        self.polls = 0
        self.bounds: list[tuple[threading.Event | None, float | None]] = []

    def bound_waits(self, stop: threading.Event | None = None, deadline: float | None = None) -> None:
        self.bounds.append((stop, deadline))

    def get_live_status(self, job_id: str) -> LiveStatus:
        answer = self.answers[min(self.polls, len(self.answers) - 1)]
        self.polls += 1
        if isinstance(answer, Exception):
            raise answer
        return answer


def wait(hook: FakeHook, deadline: float | None = None, stop: threading.Event | None = None) -> LiveStatus:
    return wait_for_run_end(
        hook,  # type: ignore[arg-type]
        JOB,
        poll_seconds=0.01,
        deadline=deadline,
        stop=stop or threading.Event(),
        log=LOG,
    )


def test_polls_until_the_run_ended_and_bounds_the_hooks_waits_meanwhile() -> None:
    hook = FakeHook([live("queued"), live("running"), live("completed")])
    deadline = time.time() + 60
    assert wait(hook, deadline).reported_status == "completed"
    assert hook.polls == 3
    assert [d for _, d in hook.bounds] == [deadline, None]  # the deadline bounds only the wait


def test_transient_failures_are_tolerated_until_too_many_in_a_row() -> None:
    hook = FakeHook([server_error()] * (MAX_CONSECUTIVE_POLL_FAILURES - 1) + [live("failed")])
    assert wait(hook).reported_status == "failed"
    with pytest.raises(SixtyfourServerError):
        wait(FakeHook([server_error()]))


def test_a_rate_limited_poll_is_no_failure() -> None:
    limited = SixtyfourRateLimitError(429, "GET", "/live_status", "slow down")
    hook = FakeHook([limited] * (2 * MAX_CONSECUTIVE_POLL_FAILURES) + [live("completed")])
    assert wait(hook).status.value == "completed"


def test_the_deadline_ends_the_wait_with_the_last_status() -> None:
    with pytest.raises(RunWaitTimedOut) as late:
        wait(FakeHook([live("running")]), time.time() + 0.05)
    assert late.value.last is not None
    assert late.value.last.reported_status == "running"


def test_a_refused_wait_ends_it_at_once() -> None:
    refused = server_error()
    refused.wait_refused = "it would pass the task's deadline"
    with pytest.raises(RunWaitTimedOut) as late:
        wait(FakeHook([refused]), time.time() + 60)
    assert (late.value.last, "HTTP 503" in late.value.detail) == (None, True)


def test_stop_ends_the_wait() -> None:
    stop = threading.Event()
    stop.set()
    hook = FakeHook([live("running")])
    with pytest.raises(RunWaitStopped, match="killed"):
        wait(hook, stop=stop)
    assert hook.polls == 0
