"""``EmulatorServer`` as a library: lifecycle, configuration, lazy imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import DEFAULT_WORKFLOWS, EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.protocol.endpoints import LIST_WORKFLOWS


def test_context_manager_picks_a_free_port_and_stops() -> None:
    with EmulatorServer(api_keys=[TEST_API_KEY]) as server:
        assert server.running
        assert server.port > 0
        assert server.base_url == f"http://127.0.0.1:{server.port}"
        answer = requests.get(server.base_url + "/workflows", headers={"x-api-key": TEST_API_KEY}, timeout=30)
        assert {w["id"] for w in answer.json()} == {spec.workflow_id for spec in DEFAULT_WORKFLOWS}
        with pytest.raises(RuntimeError, match="already started"):
            server.start()
        url = server.base_url
    assert not server.running
    server.stop()  # twice is harmless
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/workflows", timeout=5)


def test_two_servers_are_independent() -> None:
    with EmulatorServer(api_keys=["a"]) as one, EmulatorServer(api_keys=["b"]) as two:
        assert one.port != two.port
        requests.post(
            one.base_url + "/workflows/run?workflow_id=wf-demo-webhook", headers={"x-api-key": "a"}, timeout=30
        )
        assert one.runs_started() == 1
        assert two.runs_started() == 0
        assert requests.get(two.base_url + "/workflows", headers={"x-api-key": "a"}, timeout=30).status_code == 401


def test_configured_before_start(tmp_path: Path) -> None:
    server = EmulatorServer(api_keys=[TEST_API_KEY], workflows=[WorkflowSpec(workflow_id="wf-one")])
    server.add_workflow(WorkflowSpec(workflow_id="wf-two"))
    server.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=503, count=1))
    with server:
        headers = {"x-api-key": TEST_API_KEY}
        assert requests.get(server.base_url + "/workflows", headers=headers, timeout=30).status_code == 503
        ids = [w["id"] for w in requests.get(server.base_url + "/workflows", headers=headers, timeout=30).json()]
        assert ids == ["wf-one", "wf-two"]


def test_from_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"api_keys": ["file-key"], "workflows": [{"workflow_id": "wf-extra"}], "seed": 3}))
    with EmulatorServer.from_config(path) as server:
        answer = requests.get(server.base_url + "/workflows", headers={"x-api-key": "file-key"}, timeout=30)
        ids = {w["id"] for w in answer.json()}
        assert "wf-extra" in ids
        assert "wf-demo-webhook" in ids


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"api_keys": []}, "at least one"),
        ({"api_keys": "one-key"}, "list of keys"),
        ({"time_scale": 0}, "time_scale"),
        ({"link_ttl_seconds": 0}, "link_ttl_seconds"),
    ],
)
def test_bad_settings_fail_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        EmulatorServer(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workflow_id": ""}, "non-empty"),
        ({"workflow_id": "w", "blocks": ("enrich_lead",)}, "must start with first_block"),
        ({"workflow_id": "w", "outcome": "exploded"}, "outcome"),
        ({"workflow_id": "w", "fail_block": 9, "outcome": "failed"}, "fail_block"),
        ({"workflow_id": "w", "result_bytes": -1}, "result_bytes"),
    ],
)
def test_bad_workflow_specs_fail_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WorkflowSpec(**kwargs)  # type: ignore[arg-type]


def test_spec_round_trips_through_its_dict() -> None:
    for spec in DEFAULT_WORKFLOWS:
        assert WorkflowSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_importing_the_package_does_not_import_aiohttp() -> None:
    code = "import sys, airflow_provider_sixtyfour.emulator as e; e.EmulatorServer(); print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
