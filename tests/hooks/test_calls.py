"""What both hooks do around their calls (``hooks/calls.py``), without HTTP."""

from __future__ import annotations

import logging

import pytest

from airflow_provider_sixtyfour.hooks import calls
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings
from airflow_provider_sixtyfour.protocol.endpoints import IDEMPOTENCY_KEY_HEADER
from airflow_provider_sixtyfour.protocol.models import RunStarted, Workflow
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

SETTINGS = ConnectionSettings("c", "https://api.example", "sk-calls-test-key", retry=RetryPolicy(max_attempts=6))


def test_run_call_keeps_a_given_key_and_makes_one_otherwise() -> None:
    given = calls.run_call("wf-1", None, None, False, "key-1")
    assert given.headers[IDEMPOTENCY_KEY_HEADER] == "key-1"
    first = calls.run_call("wf-1", None, None, False, None).headers[IDEMPOTENCY_KEY_HEADER]
    second = calls.run_call("wf-1", None, None, False, None).headers[IDEMPOTENCY_KEY_HEADER]
    assert first.startswith("airflow-sixtyfour-")
    assert first != second


@pytest.mark.parametrize(("already", "said"), [(False, "Started Sixtyfour run"), (True, "reattached to it")])
def test_log_started(caplog: pytest.LogCaptureFixture, already: bool, said: str) -> None:
    caplog.set_level(logging.INFO)
    calls.log_started(logging.getLogger("calls-test"), RunStarted("job-1", "wf-1", RunStatus.QUEUED, already))
    assert said in caplog.text
    assert "job-1" in caplog.text


def test_connection_test_policy_is_short() -> None:
    policy = calls.connection_test_policy(SETTINGS)
    assert policy.max_attempts == calls.TEST_CONNECTION_MAX_ATTEMPTS
    assert policy.rate_limit_budget == 0.0
    assert (
        calls.connection_test_policy(ConnectionSettings("c", "u", "k", retry=RetryPolicy(max_attempts=1))).max_attempts
        == 1
    )


def test_connection_test_result() -> None:
    ok, text = calls.connection_test_result(SETTINGS, [Workflow("w", "W", "active")])
    assert ok
    assert text == "Connected to Sixtyfour at https://api.example: 1 workflows visible"
