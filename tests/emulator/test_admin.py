"""The ``/_emulator/`` routes for out-of-process control (the CLI's users, demos, benchmarks)."""

from __future__ import annotations

import uuid

import requests

from airflow_provider_sixtyfour.emulator import EmulatorServer
from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS
from emulator.helpers import FAST, Api


def _admin(server: EmulatorServer, method: str, path: str, **kwargs: object) -> requests.Response:
    return requests.request(method, f"{server.base_url}/_emulator{path}", timeout=30, **kwargs)  # type: ignore[arg-type]


def test_faults_over_http(api: Api, server: EmulatorServer) -> None:
    added = _admin(server, "POST", "/faults", json={"route": LIST_RUNS, "kind": "status", "status": 502, "count": 1})
    assert added.status_code == 201
    assert api.get("/workflows/runs").status_code == 502
    (listed,) = _admin(server, "GET", "/faults").json()
    assert listed["fired"] == 1
    assert listed["remaining"] == 0
    assert _admin(server, "POST", "/faults", json={"route": "/x", "kind": "status", "status": 500}).status_code == 400
    assert _admin(server, "DELETE", "/faults").status_code == 200
    assert _admin(server, "GET", "/faults").json() == []


def test_workflows_rate_limit_credits_and_reset_over_http(api: Api, server: EmulatorServer) -> None:
    spec = {"workflow_id": "wf-added", "blocks": ["webhook", "find_phone"], "duration_seconds": 0.1}
    assert _admin(server, "POST", "/workflows", json=spec).status_code == 201
    assert "wf-added" in {w["workflow_id"] for w in _admin(server, "GET", "/workflows").json()}
    job_id = api.start_ok("wf-added")
    assert api.wait_terminal(job_id)["overall_status"] == "completed"
    assert "phone" in requests.get(api.links(job_id)[-1]["download_url"], timeout=30).text.splitlines()[0]
    run = _admin(server, "GET", f"/runs/{job_id}").json()
    assert run["status"] == "completed"
    assert _admin(server, "GET", f"/runs/{uuid.uuid4()}").status_code == 404
    sha = _admin(server, "GET", f"/files/{job_id}/block_02_find_phone.csv/sha256").json()["sha256"]
    assert sha == server.file_sha256(job_id, "block_02_find_phone.csv")

    assert _admin(server, "POST", "/rate-limit", json={"per_minute": 1}).json()["per_window"] == 1
    assert [api.get("/workflows").status_code for _ in range(2)] == [200, 429]
    assert _admin(server, "POST", "/rate-limit", json={"per_minute": None}).json() is None

    _admin(server, "POST", "/credits", json={"balance": 0})
    assert api.start(FAST).status_code == 402
    _admin(server, "POST", "/credits", json={"balance": None})
    assert api.start(FAST).status_code == 200

    assert _admin(server, "POST", "/reset").status_code == 200
    assert server.runs_started() == 0
    assert _admin(server, "GET", "/health").json() == {"ok": True}
