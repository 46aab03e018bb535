"""The transfer tests' sizes, options, runs on the emulator and signed-URL checks.

Their fixtures are in ``tests/transfers/conftest.py``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from airflow_provider_sixtyfour.transfers import DownloadOptions

MiB = 1 << 20
#: Quick retries, and SHA-256 on so that tests can compare it with the emulator's.
FAST = DownloadOptions(sha256=True, retry_wait=0.05)
BLOCKS3 = ("webhook", "enrich_lead", "find_email")
DEFAULT_ROWS = [
    {"first_name": "Ada", "last_name": "Lovelace", "company": "Analytical Engines"},
    {"first_name": "Grace", "last_name": "Hopper", "company": "Navy"},
]


class Runs:
    """Starts runs of throwaway workflows on the emulator and waits (bounded) until they end."""

    def __init__(self, emulator: Any, hook: Any) -> None:
        self.emulator = emulator
        self.hook = hook

    def finished(
        self,
        *,
        rows: list[dict[str, Any]] | None = None,
        save_json: bool = False,
        wait: bool = True,
        **spec: Any,
    ) -> str:
        """Start a run of a new workflow shaped by ``spec`` (``WorkflowSpec`` fields); return its job id."""
        from airflow_provider_sixtyfour.emulator import WorkflowSpec

        workflow_id = f"wf-dl-{uuid.uuid4().hex[:8]}"
        spec.setdefault("duration_seconds", 0.2)
        spec.setdefault("queue_seconds", 0.0)
        self.emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, **spec))
        started = self.hook.run_workflow(workflow_id, webhook_payload=rows or DEFAULT_ROWS, save_json=save_json)
        if wait:
            self.wait(started.job_id)
        return str(started.job_id)

    def wait(self, job_id: str, limit_seconds: float = 60.0) -> None:
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            if self.hook.get_live_status(job_id).status.is_terminal:
                return
            time.sleep(0.05)
        raise AssertionError(f"run {job_id} did not end within {limit_seconds} s")


SECRET_MARKERS = ("signature=", "expires=")


def assert_no_signed_url(text: str, *urls: str | None) -> None:
    """No signed query string (nor the API key) in ``text``."""
    from helpers.keys import TEST_API_KEY

    for marker in SECRET_MARKERS:
        assert marker not in text, f"a signed URL's query string leaked: {marker!r} found"
    for url in urls:
        if url and "?" in url:
            assert url.split("?", 1)[1] not in text
    assert TEST_API_KEY not in text


def provider_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured log line except the emulator's own (it is the storage, not the client)."""
    lines = []
    # In a fixture's teardown ``caplog.records`` holds the teardown's records only.
    records = [*caplog.get_records("setup"), *caplog.get_records("call"), *caplog.records]
    for record in records:
        if record.name.startswith("airflow_provider_sixtyfour.emulator"):
            continue
        lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")
    return "\n".join(lines)
