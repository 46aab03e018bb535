"""How a user tests their own DAG offline with the emulator (quoted in the README)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec

DAGS = Path(__file__).parent / "dags"


@pytest.fixture
def sixtyfour(monkeypatch):
    """A local Sixtyfour API on a free 127.0.0.1 port, and the connection pointing at it."""
    leads = WorkflowSpec(workflow_id="wf-leads", blocks=("webhook", "enrich_lead"), duration_seconds=2.0)
    with EmulatorServer(api_keys=["test-key"], workflows=[leads], port=0) as server:
        monkeypatch.setenv(
            "AIRFLOW_CONN_SIXTYFOUR_DEFAULT",
            json.dumps({"conn_type": "sixtyfour", "host": server.base_url, "password": "test-key"}),
        )
        yield server


def test_my_enrichment_dag(sixtyfour, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(DAGS))
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    # Status polls fail 20% of the time: the run must still complete, once.
    sixtyfour.add_fault(
        FaultRule(route="/workflows/runs/{run_id}/live_status", kind="status", status=503, rate=0.2, seed=1)
    )
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], check=True, capture_output=True)
    subprocess.run([*airflow, "dags", "test", "my_enrichment"], check=True, capture_output=True)

    assert sixtyfour.runs_started() == 1
