"""Every answer of the emulator validates against the vendor's OpenAPI schemas (``$ref``s resolved from
the document), with no field the schema does not name (except the documented newer ``file_size``)."""

from __future__ import annotations

import copy
import time
from datetime import datetime
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.emulator.openapi import load_document
from airflow_provider_sixtyfour.protocol.endpoints import (
    CANCEL_RUN,
    DOWNLOAD_LINKS,
    GET_WORKFLOW,
    LIST_RUNS,
    LIST_WORKFLOWS,
    LIVE_STATUS,
    RUN_WORKFLOW,
)
from emulator.helpers import FAILING, FAST, SLOW, Api

DOC_URI = "urn:sixtyfour-openapi"
# Fields the vendor's newer docs add beyond the OpenAPI document.
DOCUMENTED_EXTRAS = {"WorkflowResultItemWithDownload": {"file_size": {"type": "integer"}}}


def _strict(document: dict[str, Any]) -> dict[str, Any]:
    """A copy where every object schema with named properties forbids unnamed ones (unless it allows them)."""
    doc = copy.deepcopy(document)
    for name, extras in DOCUMENTED_EXTRAS.items():
        doc["components"]["schemas"][name]["properties"].update(extras)

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc["components"])
    return doc


@pytest.fixture(scope="module")
def registry() -> Registry:
    document = _strict(load_document())
    return Registry().with_resource(DOC_URI, Resource.from_contents(document, default_specification=DRAFT202012))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def validate(registry: Registry, route: str, method: str, data: Any, status: str = "200") -> None:
    """Validate ``data`` against the documented answer of ``method route`` with ``status``."""
    pointer = _pointer("paths", route, method.lower(), "responses", status, "content", "application/json", "schema")
    validator = Draft202012Validator(
        {"$ref": f"{DOC_URI}#/{pointer}"}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    assert not errors, f"{method} {route}: " + "; ".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)
    _check_timestamps(data)


def _check_timestamps(data: Any) -> None:
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith(("_at", "_date", "last_updated")) and value is not None:
                assert isinstance(value, str), key
                assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None, value
            else:
                _check_timestamps(value)
    elif isinstance(data, list):
        for item in data:
            _check_timestamps(item)


def test_strict_schema_catches_unknown_fields(registry: Registry) -> None:
    with pytest.raises(AssertionError, match="Additional properties"):
        validate(registry, CANCEL_RUN, "POST", {"job_id": "x", "status": "canceled", "surprise": 1})


def test_run_and_list_answers(api: Api, registry: Registry) -> None:
    started = api.start(FAST, [{"name": "Ada"}], key="schema-key")
    validate(registry, RUN_WORKFLOW, "POST", started.json())
    replay = api.start(FAST, [{"name": "Ada"}], key="schema-key")
    validate(registry, RUN_WORKFLOW, "POST", replay.json())
    job_id = started.json()["job_id"]
    api.start_ok(SLOW, [{"name": "Grace"}])
    for params in ({}, {"status": "active"}, {"status": "running"}, {"workflow_id": FAST, "limit": "1"}):
        answer = api.get("/workflows/runs", params=params)
        assert answer.status_code == 200
        validate(registry, LIST_RUNS, "GET", answer.json())
    api.wait_terminal(job_id)
    for status in ("completed", "cancelled"):
        answer = api.get("/workflows/runs", params={"status": status})
        validate(registry, LIST_RUNS, "GET", answer.json())
    assert api.get("/workflows/runs", params={"status": "completed"}).json()[0]["job_id"] == job_id


def test_live_status_answers_in_every_state(api: Api, registry: Registry) -> None:
    fast = api.start_ok(FAST, [{"name": "Ada"}, {"name": "Alan"}])
    failing = api.start_ok(FAILING, [{"name": "Grace"}])
    slow = api.start_ok(SLOW)
    seen: set[str] = set()
    for job_id in (fast, failing, slow):
        validate(registry, LIVE_STATUS, "GET", api.live(job_id))
    while True:
        live = api.live(fast)
        validate(registry, LIVE_STATUS, "GET", live)
        seen.add(live["overall_status"])
        if live["overall_status"] == "completed":
            break
        time.sleep(0.02)  # stay well under the emulator's default 500 requests a minute
    assert {"running", "completed"} <= seen
    validate(registry, LIVE_STATUS, "GET", api.wait_terminal(failing))
    cancel = api.post("/workflows/cancel", params={"job_id": slow}, json={})
    validate(registry, CANCEL_RUN, "POST", cancel.json())
    validate(registry, LIVE_STATUS, "GET", api.wait_terminal(slow))
    terminal_cancel = api.post("/workflows/cancel", params={"job_id": fast})
    validate(registry, CANCEL_RUN, "POST", terminal_cancel.json())


def test_download_links_answers(api: Api, server: EmulatorServer, registry: Registry) -> None:
    job_id = api.start_ok(FAST, [{"name": "Ada", "company": "Analytical Engines"}], save_json=True)
    validate(registry, DOWNLOAD_LINKS, "GET", api.links(job_id))  # empty before completion
    api.wait_terminal(job_id)
    csv_links = api.links(job_id)
    assert len(csv_links) == 3
    validate(registry, DOWNLOAD_LINKS, "GET", csv_links)
    validate(registry, DOWNLOAD_LINKS, "GET", api.links(job_id, "json"))
    server.add_fault(FaultRule(route=DOWNLOAD_LINKS, kind="null_url", count=1))
    with_null = api.links(job_id)
    assert any(link["download_url"] is None for link in with_null)
    validate(registry, DOWNLOAD_LINKS, "GET", with_null)


def test_workflow_answers(api: Api, registry: Registry) -> None:
    listed = api.get("/workflows").json()
    validate(registry, LIST_WORKFLOWS, "GET", listed)
    assert all(item["workflow_definition"] is None for item in listed)
    one = api.get(f"/workflows/{FAST}").json()
    validate(registry, GET_WORKFLOW, "GET", one)
    assert [b["block_name"] for b in one["workflow_definition"]["blocks"]] == ["webhook", "enrich_lead", "find_email"]


@pytest.mark.parametrize(
    ("route", "method", "path", "params"),
    [
        (LIST_RUNS, "GET", "/workflows/runs", {"limit": "0"}),
        (LIST_RUNS, "GET", "/workflows/runs", {"limit": "501"}),
        (LIST_RUNS, "GET", "/workflows/runs", {"limit": "ten"}),
        (LIST_RUNS, "GET", "/workflows/runs", {"status": "sleeping"}),
        (LIVE_STATUS, "GET", "/workflows/runs/not-a-uuid/live_status", {}),
        (DOWNLOAD_LINKS, "GET", "/workflows/runs/not-a-uuid/results/download-links", {}),
        (CANCEL_RUN, "POST", "/workflows/cancel", {}),
        (CANCEL_RUN, "POST", "/workflows/cancel", {"job_id": "nope"}),
        (RUN_WORKFLOW, "POST", "/workflows/run", {}),
        (RUN_WORKFLOW, "POST", "/workflows/run", {"workflow_id": FAST, "save_json": "maybe"}),
    ],
)
def test_validation_errors_match_the_422_schema(
    api: Api, registry: Registry, route: str, method: str, path: str, params: dict[str, str]
) -> None:
    answer = api.get(path, params=params) if method == "GET" else api.post(path, params=params)
    assert answer.status_code == 422, answer.text
    validate(registry, route, method, answer.json(), status="422")
    assert answer.json()["detail"][0]["loc"][0] in ("query", "path", "body")
