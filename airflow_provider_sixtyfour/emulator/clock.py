"""Timestamps in the API's format."""

from __future__ import annotations

from datetime import datetime, timezone


def iso(epoch: float | None) -> str | None:
    """ISO-8601 UTC with microseconds and a ``Z``, as the API (FastAPI/pydantic) writes them."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
