"""A request that waits for the rate-limit gate waits again if another answer pushes the gate further.

Found by the fault soak: concurrent requests of one client (the triggerer's shared poller) each waited
for the gate as it stood when they looked, and one 429 arriving meanwhile pushed it a few milliseconds
further; they then sent inside the newly told wait. Driven here step by step, without sleeping.
"""

from __future__ import annotations

import logging

from airflow_provider_sixtyfour.hooks.retrying import Send, Wait, call_steps
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy

log = logging.getLogger(__name__)


def test_a_waiting_request_waits_again_when_the_gate_moves() -> None:
    gate = RateLimitGate()
    gate.observe(429, {"Retry-After": "1"})
    steps = call_steps(endpoints.list_workflows(), RetryPolicy(), gate, log)

    first = next(steps)
    assert isinstance(first, Wait)
    assert 0.9 < first.seconds <= 1.0
    gate.observe(429, {"Retry-After": "3"})  # another request of the same client is told to wait longer
    second = steps.send(None)
    assert isinstance(second, Wait)
    assert 2.0 < second.seconds <= 3.0
    assert steps.send(None) == Send(1)  # the gate did not move again: send


def test_a_request_that_waited_for_an_unmoved_gate_sends_at_once() -> None:
    gate = RateLimitGate()
    gate.observe(200, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2"})
    steps = call_steps(endpoints.list_workflows(), RetryPolicy(), gate, log)
    assert isinstance(next(steps), Wait)
    assert steps.send(None) == Send(1)
