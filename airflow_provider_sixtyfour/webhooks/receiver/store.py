"""The receiver's durable memory of deliveries: an SQLite file, so duplicates are dropped across restarts.

A delivery is a duplicate when its event id was seen, or when another delivery of the same run was
handled (the vendor may send one run's end more than once, under other event ids). Only deliveries that
were handled (Airflow accepted the asset event, or the run's status creates none) are recorded, so a
delivery that failed is retried by the vendor and handled then.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    event_id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    workflow_id TEXT,
    status TEXT,
    outcome TEXT NOT NULL,
    asset_event_id INTEGER,
    handled_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_by_run ON deliveries (run_id);
"""

BY_EVENT, BY_RUN = "event_id", "run_id"


class DeliveryStore:
    """Deliveries handled so far. Thread-safe; call it from a worker thread (``asyncio.to_thread``).

    :param path: the SQLite file (created with its folder if missing).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def duplicate_of(self, event_id: str, run_id: str) -> str | None:
        """``"event_id"`` or ``"run_id"`` when the delivery repeats one already handled, else None."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM deliveries WHERE event_id = ?", (event_id,)).fetchone():
                return BY_EVENT
            if self._db.execute("SELECT 1 FROM deliveries WHERE run_id = ? LIMIT 1", (run_id,)).fetchone():
                return BY_RUN
        return None

    def record(
        self,
        event_id: str,
        run_id: str,
        workflow_id: str | None,
        status: str | None,
        outcome: str,
        asset_event_id: int | None = None,
    ) -> None:
        """Remember a handled delivery (a repeated event id is kept once)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?)",
                (event_id, run_id, workflow_id, status, outcome, asset_event_id, time.time()),
            )

    def healthy(self) -> bool:
        """True when the file can be read."""
        try:
            with self._lock:
                self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()
        except sqlite3.Error:
            return False
        return True

    def count(self) -> int:
        """Deliveries recorded."""
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM deliveries").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
