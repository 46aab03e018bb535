"""Turn typed records into plain JSON (for XCom, trigger events and task summaries); no I/O.

Datetimes become ISO-8601 strings, enums their values, non-finite floats ``None`` (the result is always
strict JSON: ``json.dumps(..., allow_nan=False)`` accepts it), and ``raw`` copies are dropped. A signed
``download_url`` is never included: only its redacted form, so the result is safe to log and store.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from airflow_provider_sixtyfour.protocol.models import BlockProgress, DownloadLink, LiveStatus

_DROPPED_FIELDS = frozenset({"raw", "download_url", "results"})


def to_jsonable(value: Any) -> Any:
    """A JSON-safe copy of a record, list, dict or scalar."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (LiveStatus, BlockProgress)):
        return value.to_json()  # the one JSON form of a live status, which from_json reads back
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {
            f.name: to_jsonable(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if f.name not in _DROPPED_FIELDS
        }
        if isinstance(value, DownloadLink):
            out["url"] = value.safe_url
        return out
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
