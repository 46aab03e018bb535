"""Fixtures for the transfer tests: an S3 connection id unique to each test.

Airflow caches an attached object store per connection id for the life of the process, so every
test that starts its own moto server also gets its own connection id.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.landing import Runs, assert_no_signed_url, provider_log_text


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
