"""Known gaps in reattaching a retry to its run, pinned as strict xfails (each fails loudly once fixed).

On Airflow 2.11 and 3.0-3.2 (no task state store) a retry reattaches to the run an earlier try started
by replaying that try's ``Idempotency-Key``. The replay rebuilds the start request, and for a
``read_csv`` workflow that means uploading the CSV again: the new upload has a new
``resource_handle_id``, so the replayed request differs from the original and the API refuses the key
with 409. The retry fails, and so does every further retry, until ``reattach=False``.

A fix needs the earlier try's upload handle (or a request fingerprint without it), which nothing keeps
between tries on Airflow < 3.3. On 3.3 the task state store keeps it: the handle is recorded before the
start request names it, and a replay sends it again (``tests/operators/test_run_workflow.py``). Webhook
workflows are not affected (their request is rebuilt identically).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dags.support import FakeTaskInstance, FakeTaskStateStore, task_context

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator
from airflow_provider_sixtyfour.protocol.errors import SixtyfourConflictError

CSV = "wf-gap-csv"
GAP = "a replayed read_csv start re-uploads the CSV; the new handle makes it a different request (409)"


def _context(ti: FakeTaskInstance, store: FakeTaskStateStore | None = None) -> Any:
    """The task context a task instance runs with (the runtime's ``Context``, as a plain mapping)."""
    return task_context(ti, store)


@pytest.fixture
def csv_uri(emulator: EmulatorServer, sixtyfour_conn: str, tmp_path: Path) -> str:
    emulator.add_workflow(WorkflowSpec(workflow_id=CSV, first_block="read_csv", duration_seconds=0.3))
    path = tmp_path / "companies.csv"
    path.write_text("company,domain\nExample,example.com\nACE,ace.test\n")
    return path.as_uri()


def run_csv(csv_uri: str, try_number: int, store: FakeTaskStateStore | None = None) -> Any:
    operator = SixtyfourRunWorkflowOperator(task_id="enrich", workflow_id=CSV, input_csv=csv_uri, poll_interval=0.1)
    return operator.execute(_context(FakeTaskInstance(try_number=try_number), store))


@pytest.mark.xfail(strict=True, raises=SixtyfourConflictError, reason=GAP)
def test_retry_of_a_csv_run_without_a_task_state_store_reattaches(emulator: EmulatorServer, csv_uri: str) -> None:
    first = run_csv(csv_uri, try_number=1)
    second = run_csv(csv_uri, try_number=2)  # Airflow 2.11: try 2 replays try 1's key
    assert second["job_id"] == first["job_id"]
    assert emulator.runs_started() == 1


def test_webhook_runs_are_not_affected(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    """The same retry of a webhook run reattaches: its replayed request is identical."""
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-gap-webhook", first_block="webhook", duration_seconds=0.3))
    rows = [{"email": "ada@example.com"}]

    def run(try_number: int) -> Any:
        operator = SixtyfourRunWorkflowOperator(
            task_id="enrich", workflow_id="wf-gap-webhook", webhook_payload=rows, poll_interval=0.1
        )
        return operator.execute(_context(FakeTaskInstance(try_number=try_number)))

    first = run(1)
    assert run(2)["job_id"] == first["job_id"]
    assert emulator.runs_started() == 1
