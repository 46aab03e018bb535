"""Issue 13 (b) on a real Airflow 3.3: the emulator's signed ``outgoing_webhook`` delivery -> the receiver (a
real ``sixtyfour-webhook-receiver`` process) -> Airflow's REST API -> the DAG scheduled on the Asset runs.

Nothing polls the run: the emulator counts no ``live_status`` and no ``GET /workflows/runs`` call. A
dropped-then-retried and duplicated delivery makes one asset event and one DAG run; the receiver's log,
the emulator's and every Airflow log hold no signing secret (the secret audit also scans them).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from helpers.keys import TEST_API_KEY, WEBHOOK_OLD_SECRET, WEBHOOK_SECRET
from helpers.net import free_port
from secret_audit import AUDIT

DAG_ID = "sixtyfour_webhook_pipeline"
WORKFLOW_ID = "wf-e2e-webhook"
ASSET_URI = f"sixtyfour://workflows/{WORKFLOW_ID}"

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

DAG_SOURCE = f'''
import json
import os

import pendulum
from airflow.sdk import DAG, Asset, task

with DAG(
    dag_id="{DAG_ID}",
    schedule=[Asset("{ASSET_URI}")],
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
):

    @task
    def record_runs(triggering_asset_events=None):
        """Append the job ids of the Sixtyfour runs that triggered this DAG run to a file."""
        job_ids = [e.extra["job_id"] for events in (triggering_asset_events or {{}}).values() for e in events]
        with open(os.environ["SIXTYFOUR_E2E_RECORD"], "a") as handle:
            handle.write(json.dumps(job_ids) + "\\n")
        return job_ids

    record_runs()
'''


class ReceiverProcess:
    """``python -m airflow_provider_sixtyfour.webhooks.receiver`` with its log in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["SIXTYFOUR_RECEIVER_PORT"])
        self.log_path = log_path
        with log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "airflow_provider_sixtyfour.webhooks.receiver"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the receiver exited {self.proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=5):
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"the receiver did not answer /health:\n{log_path.read_text()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sixtyfour/webhook"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _asset_events(cluster: Any) -> list[dict[str, Any]]:
    """The asset events on the workflow's asset, oldest first, from the database.

    Read there, not through ``GET /api/v2/assets/events``: Airflow 3.3 answers that 500 while a DAG run the
    event created has not started yet (its response model requires the run's ``start_date``).
    """
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{cluster.database()}?mode=ro", uri=True, timeout=30)) as db:
        rows = db.execute(
            "SELECT e.id, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ? ORDER BY e.id",
            (ASSET_URI,),
        ).fetchall()
    return [{"id": row[0], "extra": json.loads(row[1])} for row in rows]


def _dag_runs(cluster: Any) -> list[dict[str, Any]]:
    return list(cluster._api_ok("GET", f"/dags/{DAG_ID}/dagRuns?limit=100")["dag_runs"])


def _wait(what: str, check: Any, timeout: float = 150) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} did not happen within {timeout:.0f} s")


def _start_run(emulator: Any) -> str:
    request = urllib.request.Request(
        f"{emulator.base_url}/workflows/run?workflow_id={urllib.parse.quote(WORKFLOW_ID)}",
        data=b"{}",
        method="POST",
        headers={"x-api-key": TEST_API_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return str(json.loads(answer.read())["job_id"])


def test_signed_webhooks_wake_the_asset_scheduled_dag_once_per_run(airflow_cluster: Any, tmp_path: Path) -> None:
    from airflow_provider_sixtyfour.emulator import (
        OUTGOING_WEBHOOK_ROUTE,
        EmulatorServer,
        FaultRule,
        WebhookSettings,
        WorkflowSpec,
    )
    from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS, LIVE_STATUS

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / f"{DAG_ID}.py").write_text(DAG_SOURCE)
    record = tmp_path / "triggered-runs.jsonl"
    cluster = airflow_cluster(dags, env={"SIXTYFOUR_E2E_RECORD": str(record)}, scheduled_runs=True)
    cluster.wait_for_dag(DAG_ID)
    cluster.unpause(DAG_ID)

    receiver_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SIXTYFOUR_RECEIVER_"))}
    receiver_env.update(
        {
            # Mid-rotation: the receiver already holds the new secret and still the old one.
            "SIXTYFOUR_RECEIVER_SIGNING_SECRETS": f"{WEBHOOK_SECRET},{WEBHOOK_OLD_SECRET}",
            "SIXTYFOUR_RECEIVER_AIRFLOW_URL": cluster.api_url,
            "SIXTYFOUR_RECEIVER_AIRFLOW_USERNAME": "admin",
            "SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD": "simple-auth-all-admins-any-password",
            "SIXTYFOUR_RECEIVER_PORT": str(free_port()),
            "SIXTYFOUR_RECEIVER_STORE": str(tmp_path / "receiver" / "deliveries.sqlite3"),
        }
    )
    receiver = ReceiverProcess(receiver_env, tmp_path / "receiver.log")
    spec = WorkflowSpec(
        workflow_id=WORKFLOW_ID, duration_seconds=1.0, queue_seconds=0.1, outgoing_webhook={"url": receiver.url}
    )
    settings = WebhookSettings(
        signing_secret=WEBHOOK_SECRET,
        previous_signing_secret=WEBHOOK_OLD_SECRET,
        backoff_seconds=0.2,
        timeout_seconds=9,
    )
    emulator = EmulatorServer(api_keys=[TEST_API_KEY], workflows=[spec], webhooks=settings).start()
    try:
        # The first run's first try is lost on the way, and the retry arrives twice.
        emulator.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="drop", count=1))
        emulator.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="duplicate", count=1))
        first = _start_run(emulator)
        attempts = _wait(
            "the first delivery", lambda: [a for a in emulator.webhook_attempts() if a["outcome"] == "200"]
        )
        tries = [(a["attempt"], a["outcome"], a["copies"]) for a in emulator.webhook_attempts()]
        # Try 1 was dropped and try 2 sent twice; a busy Airflow may have made the receiver ask for more.
        assert tries[:2] in ([(1, "dropped", 1), (2, "200", 2)], [(1, "dropped", 1), (2, "503", 2)]), attempts
        assert tries[-1][1] == "200", tries
        (event,) = _asset_events(cluster)
        assert event["extra"]["job_id"] == first
        assert event["extra"]["attempt"] >= 2
        (run,) = _wait("the first DAG run", lambda: _dag_runs(cluster))
        assert run["run_type"] == "asset_triggered"
        assert cluster.wait_for_dag_run(DAG_ID, run["dag_run_id"], timeout=120) == "success"

        # A second run of the workflow is a second event and a second DAG run.
        second = _start_run(emulator)
        _wait("the second DAG run", lambda: len(_dag_runs(cluster)) == 2)
        runs = sorted(_dag_runs(cluster), key=lambda r: r["run_after"])
        assert cluster.wait_for_dag_run(DAG_ID, runs[1]["dag_run_id"], timeout=120) == "success"
        assert [e["extra"]["job_id"] for e in _asset_events(cluster)] == [first, second]
        assert [json.loads(line) for line in record.read_text().splitlines()] == [[first], [second]]

        # Nothing polled the runs: no live status, no run list, only the two starts.
        assert emulator.request_count(LIVE_STATUS) == 0
        assert emulator.request_count(LIST_RUNS) == 0
        assert emulator.runs_started() == 2
    finally:
        emulator.stop()
        receiver.stop()

    log_text = receiver.log_path.read_text()
    outcomes = [json.loads(line).get("outcome") for line in log_text.splitlines() if line.startswith("{")]
    assert outcomes.count("accepted") == 2
    assert outcomes.count("duplicate") == 1
    for secret in (WEBHOOK_SECRET, WEBHOOK_OLD_SECRET):
        assert secret not in log_text
        assert cluster.logs_containing(secret) == []
    AUDIT.scan_files("subprocess", [receiver.log_path])
