"""Timestamps in the API's format."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache


def iso(epoch: float | None) -> str | None:
    """ISO-8601 UTC with microseconds and a ``Z``, as the API (FastAPI/pydantic) writes them."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=65536)
def iso_fixed(epoch: float | None) -> str | None:
    """:func:`iso` for instants that recur in answers (a run's start, a block's end): formatted once."""
    return iso(epoch)
