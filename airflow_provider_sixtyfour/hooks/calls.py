"""What both hooks do around their calls, written once: the run call and its log line, the connection test.

The sync and the async hook differ only in how they send; :mod:`~airflow_provider_sixtyfour.hooks.sixtyfour`
builds each call and reports it with these.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from airflow_provider_sixtyfour.hooks.retrying import LogLike
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.models import RunStarted, Workflow
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy

#: ``test_connection`` answers quickly rather than wait out the whole retry budget.
TEST_CONNECTION_MAX_ATTEMPTS = 2


def run_call(
    workflow_id: str,
    webhook_payload: object,
    specs_override: dict[str, Any] | None,
    save_json: bool,
    idempotency_key: str | None,
) -> ApiCall[RunStarted]:
    """The run request, with ``idempotency_key`` or a fresh one.

    One key for every retry of this call: a replay after a lost answer returns the same run.
    """
    key = endpoints.new_idempotency_key() if idempotency_key is None else idempotency_key
    return endpoints.run_workflow(
        workflow_id, webhook_payload, specs_override, save_json=save_json, idempotency_key=key
    )


def log_started(log: LogLike, started: RunStarted) -> None:
    """Log that a run started, or that an earlier request with the same key had started it."""
    if started.already_started:
        log.info(
            "Sixtyfour run %s of workflow %s was already started by an earlier request with the same "
            "Idempotency-Key; reattached to it",
            started.job_id,
            started.workflow_id,
        )
    else:
        log.info("Started Sixtyfour run %s of workflow %s", started.job_id, started.workflow_id)


def connection_test_policy(settings: ConnectionSettings) -> RetryPolicy:
    """The connection's policy cut for a test that answers in seconds: two tries, 429s counted among them."""
    return replace(
        settings.retry,
        max_attempts=min(settings.retry.max_attempts, TEST_CONNECTION_MAX_ATTEMPTS),
        rate_limit_budget=0.0,
    )


def connection_test_result(settings: ConnectionSettings, workflows: list[Workflow]) -> tuple[bool, str]:
    """What ``test_connection`` answers when the workflows could be listed."""
    return True, f"Connected to Sixtyfour at {settings.base_url}: {len(workflows)} workflows visible"
