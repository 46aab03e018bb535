"""OpenLineage in tests: the real provider's file transport, one JSON event per line under the Airflow home."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LINEAGE_NAMESPACE = "sixtyfour-tests"


def openlineage_env(home: Path) -> dict[str, str]:
    """Environment that makes the OpenLineage provider append every event to ``home/openlineage/events.jsonl``.

    The secret audit reads every file under ``home/openlineage/`` of each Airflow home a test used.
    """
    folder = Path(home) / "openlineage"
    folder.mkdir(parents=True, exist_ok=True)
    transport = {"type": "file", "log_file_path": str(folder / "events.jsonl"), "append": True}
    return {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(transport),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": LINEAGE_NAMESPACE,
    }


def lineage_events(home: Path) -> list[dict[str, Any]]:
    """The OpenLineage events written under ``home`` (see :func:`openlineage_env`), in order."""
    path = Path(home) / "openlineage" / "events.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
