"""Fixtures for the transfer tests: an S3 connection id unique to each test.

Airflow caches an attached object store per connection id for the life of the process, so every
test that starts its own moto server also gets its own connection id.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_sixtyfour.transfers import DownloadOptions

MiB = 1 << 20
#: Quick retries, and SHA-256 on so that tests can compare it with the emulator's.
FAST = DownloadOptions(sha256=True, retry_wait=0.05)
BLOCKS3 = ("webhook", "enrich_lead", "find_email")


@pytest.fixture
def s3_conn_id(moto_s3: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh ``aws`` connection id pointing at this test's moto server."""
    conn_id = f"aws_moto_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", moto_s3.connection_json())  # type: ignore[attr-defined]
    return conn_id


@pytest.fixture
def s3_bucket(moto_s3: object) -> str:
    """A bucket created in this test's moto server."""
    name = f"landing-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


# --------------------------------------------------------------------------------------------------
# Finished runs on the emulator
# --------------------------------------------------------------------------------------------------

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


@pytest.fixture
def hook(sixtyfour_conn: str) -> Iterator[Any]:
    """A ``SixtyfourHook`` on the test's emulator."""
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    with SixtyfourHook(sixtyfour_conn_id=sixtyfour_conn) as hook:
        yield hook


@pytest.fixture
def runs(emulator: Any, hook: Any) -> Runs:
    """Start and finish runs on the test's emulator."""
    return Runs(emulator, hook)


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


@pytest.fixture
def audit_provider_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Capture at DEBUG and fail the test if a signed URL or the key reached the provider's logs."""
    caplog.set_level(logging.DEBUG)
    yield
    assert_no_signed_url(provider_log_text(caplog))


# --------------------------------------------------------------------------------------------------
# A hostile storage (and stand-in API) of the test's own
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def hostile() -> Iterator[Any]:
    """A :class:`~transfers.hostile.HostileServer` on 127.0.0.1, stopped after the test."""
    from .hostile import HostileServer

    server = HostileServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hostile_hook(hostile: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A ``SixtyfourHook`` whose API is the hostile server's stand-in."""
    from helpers.connections import sixtyfour_connection_uri_json

    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_HOSTILE", sixtyfour_connection_uri_json(hostile.url))
    with SixtyfourHook(sixtyfour_conn_id="sixtyfour_hostile") as hook:
        yield hook
