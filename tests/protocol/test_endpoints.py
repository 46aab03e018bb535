"""Request building: paths, parameters, bodies, idempotency, and input checks before any request is sent."""

from __future__ import annotations

import io
from datetime import date

import pytest

from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"


def test_run_workflow_call() -> None:
    call = endpoints.run_workflow("wf-1", [{"name": "Ada"}], {"limit": 3}, save_json=True, idempotency_key="key-1")
    assert (call.method, call.route, call.path) == ("POST", endpoints.RUN_WORKFLOW, "/workflows/run")
    assert call.params == {"workflow_id": "wf-1", "save_json": "true"}
    assert call.json_body == {"specs_override": {"limit": 3}, "webhook_payload": [{"name": "Ada"}]}
    assert call.headers == {endpoints.IDEMPOTENCY_KEY_HEADER: "key-1"}
    assert call.retry_safe


def test_run_workflow_without_body() -> None:
    call = endpoints.run_workflow("wf-1", idempotency_key="k")
    assert call.json_body is None
    assert call.params == {"workflow_id": "wf-1"}


def test_run_workflow_dict_payload_is_kept_a_dict() -> None:
    call = endpoints.run_workflow("wf-1", {"name": "Ada"}, idempotency_key="k")
    assert call.json_body == {"webhook_payload": {"name": "Ada"}}


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ("name,email", "dict or a list of dicts"),
        ([{"a": 1}, "oops"], "row 1 is a str"),
        ([{"when": date(2026, 1, 1)}], "not JSON-serialisable"),
        ({"x": float("nan")}, "not JSON-serialisable"),
    ],
)
def test_run_workflow_rejects_bad_payloads(payload: object, problem: str) -> None:
    with pytest.raises(SixtyfourInputError, match=problem):
        endpoints.run_workflow("wf-1", payload, idempotency_key="k")


def test_run_workflow_rejects_bad_specs_and_ids() -> None:
    with pytest.raises(SixtyfourInputError, match="specs_override must be a dict"):
        endpoints.run_workflow("wf-1", None, ["x"], idempotency_key="k")  # type: ignore[arg-type]
    with pytest.raises(SixtyfourInputError, match="workflow_id is empty"):
        endpoints.run_workflow("  ", idempotency_key="k")
    with pytest.raises(SixtyfourInputError, match="idempotency_key is empty"):
        endpoints.run_workflow("wf-1", idempotency_key="")


def test_new_idempotency_keys_are_unique() -> None:
    keys = {endpoints.new_idempotency_key() for _ in range(100)}
    assert len(keys) == 100


def test_list_runs_call() -> None:
    call = endpoints.list_runs(status="canceled", workflow_id="wf-1", limit=500)
    assert call.params == {"status": "cancelled", "workflow_id": "wf-1", "limit": "500"}
    assert endpoints.list_runs().params == {"limit": "100"}
    assert endpoints.list_runs(status=RunStatus.RUNNING).params["status"] == "running"


@pytest.mark.parametrize("limit", [0, 501, -1, True, 2.5, "10"])
def test_list_runs_rejects_bad_limits(limit: object) -> None:
    with pytest.raises(SixtyfourInputError, match="limit must be an integer from 1 to 500"):
        endpoints.list_runs(limit=limit)  # type: ignore[arg-type]


def test_list_runs_rejects_unknown_status() -> None:
    with pytest.raises(SixtyfourInputError, match="status 'failed' is not a filter"):
        endpoints.list_runs(status="failed")


def test_job_id_paths_and_validation() -> None:
    assert endpoints.get_live_status(JOB_ID).path == f"/workflows/runs/{JOB_ID}/live_status"
    assert endpoints.get_live_status(JOB_ID).route == endpoints.LIVE_STATUS
    links = endpoints.get_download_links(JOB_ID, "json")
    assert links.path == f"/workflows/runs/{JOB_ID}/results/download-links"
    assert links.params == {"format": "json"}
    cancel = endpoints.cancel_run(JOB_ID)
    assert (cancel.method, cancel.path, cancel.params) == ("POST", "/workflows/cancel", {"job_id": JOB_ID})
    for builder in (endpoints.get_live_status, endpoints.cancel_run, endpoints.get_download_links):
        with pytest.raises(SixtyfourInputError, match="not a Sixtyfour run id"):
            builder("../../etc/passwd")


def test_download_links_format_checked() -> None:
    with pytest.raises(SixtyfourInputError, match="format must be one of"):
        endpoints.get_download_links(JOB_ID, "xlsx")


def test_workflow_ids_are_quoted_in_paths() -> None:
    assert endpoints.get_workflow("wf 1/x").path == "/workflows/wf%201%2Fx"
    assert endpoints.list_workflows().path == "/workflows"


def test_upload_call() -> None:
    content = io.BytesIO(b"name\nAda\n")
    call = endpoints.upload_csv("leads.csv", content)
    assert (call.method, call.path) == ("POST", endpoints.UPLOAD_CSV)
    assert call.upload is not None
    assert call.upload.field_name == endpoints.UPLOAD_FIELD_NAME
    assert call.upload.filename == "leads.csv"
    assert call.parse({endpoints.UPLOAD_HANDLE_KEY: "h-1"}) == "h-1"


def test_every_route_is_listed() -> None:
    assert set(endpoints.ALL_ROUTES) == {
        endpoints.RUN_WORKFLOW,
        endpoints.LIST_RUNS,
        endpoints.LIVE_STATUS,
        endpoints.CANCEL_RUN,
        endpoints.DOWNLOAD_LINKS,
        endpoints.UPLOAD_CSV,
        endpoints.LIST_WORKFLOWS,
        endpoints.GET_WORKFLOW,
    }
