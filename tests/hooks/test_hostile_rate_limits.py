"""Hostile servers, part 2: rate-limit headers are obeyed only within bounds, and every wait can be cut short.

Issue 11 items 2 and 18. A told wait longer than ``max_wait`` fails that call at once, naming the wait,
and holds up no later call; a non-finite or unreadable one is ignored; 429s are retried until a time
budget is spent, whatever the attempt count; a hook's waits end at its task's deadline and on ``on_kill``.
Real HTTP to a server of the test's own, through both hooks. No assertion here measures time: what the
hook waited is read from its own log lines, and a hang is caught by a safety limit only.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from typing import Any

import pytest
from helpers.hooks import AllLogs, HookClient, wait_for
from hostile_wire import Exchange, answer

from airflow_provider_sixtyfour.hooks.retrying import WaitLimits
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
from airflow_provider_sixtyfour.hooks.transport_async import AsyncTransport
from airflow_provider_sixtyfour.hooks.transport_sync import SyncTransport
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourError,
    SixtyfourRateLimitError,
    SixtyfourServerError,
    SixtyfourTransportError,
)
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy

KINDS = ["sync", "async"]
WORKFLOWS = [{"id": "wf-1", "name": "A", "status": "ready", "step": "x"}]
HANG_GUARD = 60.0
RESET_IN_A_DAY = "<now + 86400>"
log = logging.getLogger(__name__)


def gate_of(client: HookClient) -> Any:
    hook = client.hook
    transport = hook.transport if isinstance(hook, SixtyfourHook) else hook._transport
    return transport.gate


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("headers", "named"),
    [
        ({"Retry-After": "100000"}, r"100000 s \(Retry-After\)"),
        ({"Retry-After": "Fri, 01 Jan 2100 00:00:00 GMT"}, r"\d{9,} s \(Retry-After\)"),
        (
            # The reset epoch is set when the test runs, not at collection: a long
            # session would otherwise shrink the told wait below 86,000 s.
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": RESET_IN_A_DAY},
            r"86\d{3} s \(X-RateLimit-Reset\)",
        ),
    ],
    ids=["seconds", "http-date", "reset-epoch"],
)
def test_a_told_wait_beyond_max_wait_fails_that_call_at_once_and_not_the_next(
    kind: str,
    headers: dict[str, str],
    named: str,
    wire_server,  # type: ignore[no-untyped-def]
    client_on,  # type: ignore[no-untyped-def]
) -> None:
    headers = {
        name: str(int(time.time()) + 86_400) if value == RESET_IN_A_DAY else value for name, value in headers.items()
    }
    api = wire_server(answer(429, {"detail": "slow down"}, headers), answer(200, WORKFLOWS))
    client = client_on(kind, api.base_url)

    with pytest.raises(SixtyfourRateLimitError) as info:
        client("list_workflows")
    message = str(info.value)
    assert "GET /workflows failed with HTTP 429: slow down" in message
    assert re.search("The API asked to wait " + named, message), message
    assert "longer than the 120 s this provider waits at most: not retried" in message
    assert len(api.requests) == 1

    assert gate_of(client).delay() == 0.0  # the absurd wait was not kept for later calls...
    assert [w.id for w in client("list_workflows")] == ["wf-1"]  # ...so the next one goes out at once
    assert len(api.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_an_absurd_reset_on_a_success_is_ignored_and_said(kind: str, wire_server, client_on, all_logs: AllLogs) -> None:  # type: ignore[no-untyped-def]
    far = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 10**7)}
    api = wire_server(answer(200, WORKFLOWS, far), answer(200, WORKFLOWS))
    client = client_on(kind, api.base_url)
    client("list_workflows")
    assert gate_of(client).delay() == 0.0
    client("list_workflows")
    assert len(api.requests) == 2
    lines = all_logs.lines("said to wait")
    assert lines
    assert "longer than the 120 s this provider waits at most: ignored" in lines[0]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "Infinity", "1e999", "9" * 500, "soon", "Fri, 99 Foo 99999"])
def test_non_finite_or_unreadable_waits_are_ignored(kind: str, value: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    headers = {"Retry-After": value, "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": value}
    api = wire_server(answer(503, {"detail": "busy"}, headers), answer(200, WORKFLOWS, headers), answer(200, WORKFLOWS))
    client = client_on(kind, api.base_url, backoff_base=0.01)
    assert client("list_workflows")  # the 503 is retried after the usual backoff
    assert gate_of(client).delay() <= 1.0  # at most the gate's default pause for an exhausted window
    assert client("list_workflows")
    assert len(api.requests) == 3


def retry_waits(logs: AllLogs) -> list[float]:
    """The waits the hook logged before each retry ("... retry 2 of 3 in 1.25 s")."""
    return [float(m.group(1)) for line in logs.lines("; retry ") if (m := re.search(r" in (\d+\.\d+) s", line))]


@pytest.mark.parametrize("kind", KINDS)
def test_bare_429s_are_retried_until_the_time_budget_whatever_the_attempt_count(
    kind: str,
    wire_server,  # type: ignore[no-untyped-def]
    all_logs: AllLogs,
) -> None:
    api = wire_server(answer(429, {"detail": "Too many requests"}))
    budget = 0.6
    # Two attempts allowed, yet the 429s go on until the budget is spent: they are counted by time.
    policy = RetryPolicy(max_attempts=2, backoff_base=0.05, backoff_max=0.2, rate_limit_budget=budget)
    settings = ConnectionSettings("sixtyfour_window", api.base_url, "sk-window-test-key-0123", retry=policy)
    with pytest.raises(SixtyfourRateLimitError) as info:
        transport_request(kind, settings, endpoints.list_workflows())
    waits = retry_waits(all_logs)
    assert len(waits) >= 3, waits
    assert len(api.requests) == len(waits) + 1
    rounding = 0.005 * len(waits)  # the log shows each wait to two decimals
    assert sum(waits) >= budget - rounding  # it gave up only once the budget was spent
    assert sum(waits[:-1]) < budget + rounding  # ...and not later than the wait that reached it
    assert "Still rate limited after waiting" in str(info.value)


def test_the_default_policy_retries_bare_429s_for_three_windows_with_growing_waits() -> None:
    """The figures behind the budget, for the default connection (5 retries), without HTTP."""
    policy = RetryPolicy()
    assert policy.rate_limit_budget == 180.0
    for _ in range(50):
        waited, limited, delays = 0.0, 0, []
        while (delay := policy.delay_after_status(limited + 1, 429, {}, waited_on_429=waited)) is not None:
            limited += 1
            delays.append(delay)
            waited += delay
        assert 180.0 <= waited <= 180.0 + policy.backoff_max
        assert len(delays) > policy.max_attempts  # far more than the attempts counted for 5xx
        assert max(delays) <= policy.backoff_max
        assert delays[4] > delays[0]  # the waits grow
        assert policy.rate_limit_spent(429, waited) is not None


def transport_request(
    kind: str, settings: ConnectionSettings, call: endpoints.ApiCall[Any], limits: WaitLimits | None = None
) -> Any:
    """Send ``call`` through a transport built on ``settings`` directly (for a policy the connection
    form cannot set)."""
    return transport_requests(kind, settings, [call], limits)[0]


def transport_requests(
    kind: str, settings: ConnectionSettings, calls: list[endpoints.ApiCall[Any]], limits: WaitLimits | None = None
) -> list[Any]:
    """Send ``calls`` one after the other through one transport (one gate), as one hook would."""
    if kind == "sync":
        sync = SyncTransport(settings, log, limits)
        try:
            return [sync.request(call) for call in calls]
        finally:
            sync.close()

    async def go() -> list[Any]:
        transport = AsyncTransport(settings, log, limits)
        try:
            return [await transport.request(call) for call in calls]
        finally:
            await transport.aclose()

    return asyncio.run(go())


# -- every wait can be cut short: the deadline, and on_kill ------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("first", "error", "says"),
    [
        (
            answer(429, {"detail": "slow"}, {"Retry-After": "90"}),
            SixtyfourRateLimitError,
            "HTTP 429: slow. Not retried",
        ),
        (answer(503, {"detail": "busy"}, {"Retry-After": "90"}), SixtyfourServerError, "HTTP 503: busy. Not retried"),
        (
            answer(200, WORKFLOWS, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "90"}),
            SixtyfourTransportError,
            "not sent: the API's rate limit asks to wait",
        ),
    ],
    ids=["retry-after-429", "retry-after-503", "exhausted-window"],
)
def test_a_wait_that_would_pass_the_deadline_is_not_started(
    kind: str,
    first: Any,
    error: type[SixtyfourError],
    says: str,
    wire_server,  # type: ignore[no-untyped-def]
) -> None:
    api = wire_server(first, answer(200, WORKFLOWS))
    settings = ConnectionSettings("sixtyfour_deadline", api.base_url, "sk-deadline-test-key-0123")
    limits = WaitLimits(deadline=time.time() + 30)
    # After an exhausted window the first call succeeds; the second would wait 90 s before it is sent.
    calls = [endpoints.list_workflows(), endpoints.list_workflows()]

    with pytest.raises(error) as info:
        transport_requests(kind, settings, calls, limits)
    assert says in str(info.value)
    assert "would pass the task's deadline" in str(info.value)
    assert info.value.wait_refused
    assert "deadline" in info.value.wait_refused
    assert len(api.requests) == 1


@pytest.mark.parametrize(
    "first",
    [
        answer(429, {"detail": "slow"}, {"Retry-After": "100"}),
        answer(200, WORKFLOWS, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "100"}),
    ],
    ids=["retry-after", "exhausted-window"],
)
def test_setting_the_stop_event_ends_a_wait_at_once(first: Any, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    """What ``on_kill`` does to a hook bound with ``bound_waits(stop)``: the call stops waiting and fails."""
    api = wire_server(first, answer(200, WORKFLOWS))
    client = client_on("sync", api.base_url)
    stop = threading.Event()
    client.hook.bound_waits(stop)
    failures: list[BaseException] = []

    def calls() -> None:
        try:
            client("list_workflows")
            client("list_workflows")
        except BaseException as err:
            failures.append(err)

    worker = threading.Thread(target=calls, daemon=True)
    worker.start()
    wait_for(lambda: len(api.requests) >= 1, "the first request")
    stop.set()
    worker.join(HANG_GUARD)
    assert not worker.is_alive(), "the hook kept waiting after the stop event was set"
    assert len(failures) == 1
    assert isinstance(failures[0], SixtyfourError)
    assert "the task is being stopped" in str(failures[0])
    assert len(api.requests) == 1


def test_stop_set_while_waiting_after_a_lost_answer(wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    def hang_up(exchange: Exchange) -> None:
        exchange.sock.close()

    api = wire_server(hang_up)
    client = client_on("sync", api.base_url, backoff_base=100)
    stop = threading.Event()
    client.hook.bound_waits(stop)
    failures: list[BaseException] = []

    def call() -> None:
        try:
            client("list_workflows")
        except BaseException as err:
            failures.append(err)

    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    wait_for(lambda: len(api.requests) >= 1, "the first request")
    stop.set()
    worker.join(HANG_GUARD)
    assert not worker.is_alive()
    assert isinstance(failures[0], SixtyfourTransportError)
    assert "not retried: the task is being stopped" in str(failures[0])
