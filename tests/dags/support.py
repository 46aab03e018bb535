"""Helpers shared by the run and cancel operator tests.

``FakeTaskInstance``/``task_context`` stand in for Airflow's runtime only where a test calls an
operator's ``execute`` directly; every HTTP request still goes to the emulator. The DAG-level tests run
the DAG files beside this module through the real ``airflow dags test``.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DAGS_DIR = Path(__file__).parent

#: A webhook row every test run enriches.
ROWS = [{"email": "ada@example.com", "company": "Example Ltd"}, {"email": "alan@example.com", "company": "ACE"}]


class FakeTaskStateStore:
    """Airflow 3.3's ``task_state_store``: a per-task-instance key/value store that survives retries."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(json.dumps(self.values[key])) if key in self.values else default

    def set(self, key: str, value: Any) -> None:
        self.values[key] = json.loads(json.dumps(value))


class FakeTaskInstance:
    """The parts of a task instance the operators use: identity, try number and ``xcom_push``."""

    def __init__(
        self,
        *,
        dag_id: str = "test_dag",
        task_id: str = "enrich",
        run_id: str = "manual__2026-01-01T00:00:00+00:00",
        map_index: int = -1,
        try_number: int = 1,
        on_push: Callable[[str, Any], None] | None = None,
    ) -> None:
        self.dag_id = dag_id
        self.task_id = task_id
        self.run_id = run_id
        self.map_index = map_index
        self.try_number = try_number
        self.xcoms: dict[str, Any] = {}
        self._on_push = on_push

    def xcom_push(self, key: str, value: Any) -> None:
        json.dumps(value, allow_nan=False)  # XCom values must be strict JSON (no NaN or Infinity)
        self.xcoms[key] = value
        if self._on_push is not None:
            self._on_push(key, value)


def task_context(ti: FakeTaskInstance, store: FakeTaskStateStore | None = None) -> dict[str, Any]:
    """A task context with ``ti`` (and, like Airflow 3.3, a task state store when given)."""
    context: dict[str, Any] = {"ti": ti, "task_instance": ti, "run_id": ti.run_id}
    if store is not None:
        context["task_state_store"] = store
    return context


def dag_source(name: str) -> str:
    """The source of a DAG file beside this module."""
    return (DAGS_DIR / name).read_text()


def read_xcoms(db_path: Path, key: str) -> dict[str, Any]:
    """``{task_id: value}`` of one XCom key in an Airflow SQLite database (2.11 or 3.x), read while it runs."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1) as conn:
            rows = conn.execute("SELECT task_id, value FROM xcom WHERE key = ?", (key,)).fetchall()
    except sqlite3.Error:
        return {}
    found: dict[str, Any] = {}
    for task_id, value in rows:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        try:
            found[task_id] = json.loads(value)
        except (TypeError, ValueError):
            found[task_id] = value
    return found


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.1) -> Any:
    """Poll ``predicate`` until it returns something truthy; raise after ``timeout`` seconds (a hang guard)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def task_states(db_path: Path, dag_id: str) -> dict[str, str]:
    """``{task_id: state}`` of a DAG's task instances in an Airflow SQLite database."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as conn:
        rows = conn.execute("SELECT task_id, state FROM task_instance WHERE dag_id = ?", (dag_id,)).fetchall()
    return {task_id: state for task_id, state in rows}


def dags_test_watching(
    cli: Any, dag_id: str, extra_env: dict[str, str], watch: Callable[[], None], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``airflow dags test DAG_ID`` in the background, calling ``watch()`` every 0.1 s while it runs."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id],
        env=cli.env(extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(proc.stdout.read() if proc.stdout else ""), daemon=True)
    reader.start()
    end = time.monotonic() + timeout
    try:
        while proc.poll() is None:
            if time.monotonic() > end:
                raise AssertionError(f"airflow dags test {dag_id} still running after {timeout} s")
            watch()
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reader.join(30)
    return subprocess.CompletedProcess(proc.args, proc.returncode, "".join(chunks), None)


class Canceller:
    """Cancels, from outside Airflow, every active run of one workflow (as a person in the app would)."""

    def __init__(self, workflow_id: str) -> None:
        self.workflow_id = workflow_id
        self.cancelled: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

        with SixtyfourHook() as hook:
            while not self._stop.wait(0.2):
                for run in hook.list_runs(status="active", workflow_id=self.workflow_id):
                    hook.cancel_run(run.job_id)
                    self.cancelled.add(run.job_id)

    def __enter__(self) -> Canceller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)


def operator_thread_setup() -> None:
    """Let operators run in a thread of a pool: Airflow 2's ``ExecutorSafeguard`` keeps per-thread
    state that only the main thread starts with (pass this as the pool's ``initializer``)."""
    try:
        from airflow.models.baseoperator import ExecutorSafeguard
    except ImportError:
        return
    sentinel = getattr(ExecutorSafeguard, "_sentinel", None)
    if sentinel is not None and not hasattr(sentinel, "callers"):
        sentinel.callers = {}
