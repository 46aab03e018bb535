"""Error answers in the API's three shapes, with the documented status codes."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import requests

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from emulator.helpers import CSV_FLOW, FAST, Api

UNAUTHORIZED = {"error": "Unauthorized", "message": "Invalid API key"}

UNKNOWN_RUN_ID = "0b7c0d1e-5f6a-4b3c-9d2e-1f0a9b8c7d6e"


@pytest.mark.parametrize("key", [None, "wrong-key"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/workflows/run?workflow_id=wf-test-fast"),
        ("GET", "/workflows/runs"),
        # Fixed ids: parameter ids must be the same in every pytest-xdist worker.
        ("GET", f"/workflows/runs/{UNKNOWN_RUN_ID}/live_status"),
        ("POST", f"/workflows/cancel?job_id={UNKNOWN_RUN_ID}"),
        ("GET", f"/workflows/runs/{UNKNOWN_RUN_ID}/results/download-links"),
        ("POST", "/storage/csv/upload"),
        ("GET", "/workflows"),
        ("GET", "/workflows/wf-test-fast"),
    ],
)
def test_every_api_route_needs_the_key(server: EmulatorServer, key: str | None, method: str, path: str) -> None:
    headers = {"x-api-key": key} if key else {}
    answer = requests.request(method, server.base_url + path, headers=headers, timeout=30)
    assert answer.status_code == 401
    assert answer.json() == UNAUTHORIZED
    assert server.runs_started() == 0


def test_admin_routes_need_no_key(server: EmulatorServer) -> None:
    assert requests.get(server.base_url + "/_emulator/stats", timeout=30).status_code == 200


def test_not_found_shapes(api: Api) -> None:
    for answer in (
        api.get("/workflows/wf-nope"),
        api.start("wf-nope"),
    ):
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Workflow not found"}
    for answer in (
        api.get(f"/workflows/runs/{uuid.uuid4()}/live_status"),
        api.get(f"/workflows/runs/{uuid.uuid4()}/results/download-links"),
    ):
        assert answer.status_code == 404
        assert answer.json() == {"detail": "Run not found"}
    unknown_route = api.get("/no/such/route")
    assert unknown_route.status_code == 404
    assert unknown_route.json() == {"detail": "Not Found"}


@pytest.mark.parametrize(
    ("params", "loc", "kind"),
    [
        ({"limit": "0"}, ["query", "limit"], "greater_than_equal"),
        ({"limit": "501"}, ["query", "limit"], "less_than_equal"),
        ({"limit": "many"}, ["query", "limit"], "int_parsing"),
        ({"status": "finished"}, ["query", "status"], "value_error"),
        ({"status": "canceled"}, ["query", "status"], "value_error"),
    ],
)
def test_list_validation(api: Api, params: dict[str, str], loc: list[str], kind: str) -> None:
    answer = api.get("/workflows/runs", params=params)
    assert answer.status_code == 422
    (item,) = answer.json()["detail"]
    assert item["loc"] == loc
    assert item["type"] == kind
    assert item["msg"]


def test_limit_bounds_are_accepted(api: Api) -> None:
    assert api.get("/workflows/runs", params={"limit": "1"}).status_code == 200
    assert api.get("/workflows/runs", params={"limit": "500"}).status_code == 200


def test_non_uuid_run_ids_are_422(api: Api) -> None:
    for answer, loc in (
        (api.get("/workflows/runs/123/live_status"), ["path", "run_id"]),
        (api.get("/workflows/runs/abc/results/download-links"), ["path", "run_id"]),
        (api.post("/workflows/cancel", params={"job_id": "abc"}), ["query", "job_id"]),
        (api.post("/workflows/cancel"), ["query", "job_id"]),
    ):
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == loc


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"webhook_payload": "rows"}, ["body", "webhook_payload"]),
        ({"webhook_payload": [{"a": 1}, 2]}, ["body", "webhook_payload"]),
        ({"specs_override": [1, 2]}, ["body", "specs_override"]),
        ([{"a": 1}], ["body"]),
    ],
)
def test_run_body_validation(api: Api, server: EmulatorServer, body: object, loc: list[str]) -> None:
    answer = api.post("/workflows/run", params={"workflow_id": FAST}, json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == loc
    assert server.runs_started() == 0


def test_run_body_that_is_not_json(api: Api) -> None:
    answer = api.post(
        "/workflows/run",
        params={"workflow_id": FAST},
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["type"] == "json_invalid"


def test_webhook_payload_to_a_non_webhook_workflow_is_400(api: Api, server: EmulatorServer) -> None:
    answer = api.start(CSV_FLOW, [{"company": "Acme"}])
    assert answer.status_code == 400
    assert "first block is 'webhook'" in answer.json()["detail"]
    assert server.runs_started() == 0


def test_empty_webhook_payload_is_400(api: Api) -> None:
    answer = api.start(FAST, [])
    assert answer.status_code == 400
    assert "empty" in answer.json()["detail"]


def test_read_csv_workflow_needs_a_known_handle(api: Api, server: EmulatorServer) -> None:
    missing = api.start(CSV_FLOW)
    assert missing.status_code == 400
    assert "resource_handle_id" in missing.json()["detail"]
    unknown = api.start(CSV_FLOW, specs_override={"resource_handle_id": "csv_nope"})
    assert unknown.status_code == 400
    assert "csv_nope" in unknown.json()["detail"]
    assert server.runs_started() == 0


def test_insufficient_credit_is_402(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(
        workflows=[
            WorkflowSpec(workflow_id="wf-cheap", credit_cost=1),
            WorkflowSpec(workflow_id="wf-pricey", credit_cost=50),
        ],
        credit_balance=10,
    )
    api = Api(server.base_url)
    pricey = api.start("wf-pricey")
    assert pricey.status_code == 402
    assert "Insufficient credit" in pricey.json()["detail"]
    assert api.start("wf-cheap").status_code == 200
    server.set_credit_balance(0)
    assert api.start("wf-cheap").status_code == 402
    server.set_credit_balance(None)
    assert api.start("wf-pricey").status_code == 200
    assert server.runs_started() == 2


def test_feature_not_enabled_is_403(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(workflows=[WorkflowSpec(workflow_id="wf-csv-only", allow_save_json=False)])
    api = Api(server.base_url)
    answer = api.start("wf-csv-only", save_json=True)
    assert answer.status_code == 403
    assert "not enabled" in answer.json()["detail"]
    assert api.start("wf-csv-only").status_code == 200


def test_bad_boolean_is_422(api: Api) -> None:
    answer = api.post("/workflows/run", params={"workflow_id": FAST, "save_json": "perhaps"})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["query", "save_json"]
