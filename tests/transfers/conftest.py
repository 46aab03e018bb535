"""Fixtures for the transfer tests: an S3 connection id unique to each test.

Airflow caches an attached object store per connection id for the life of the process, so every
test that starts its own moto server also gets its own connection id.
"""

from __future__ import annotations

import uuid

import pytest


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
