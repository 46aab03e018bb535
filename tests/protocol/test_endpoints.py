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


def _listed(job_id: str, status: str = "running", **more: object) -> dict[str, object]:
    return {"job_id": job_id, "workflow_id": "wf-1", "status": status, "metrics": {"rows_in": 1}, **more}


def test_runs_reusing_takes_a_known_record_only_for_the_same_answer() -> None:
    other = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
    known = {r.job_id: r for r in endpoints.runs_reusing([_listed(JOB_ID), _listed(other)], {})}
    again = endpoints.runs_reusing([_listed(JOB_ID), _listed(other, "completed")], known)
    assert again[0] is known[JOB_ID]
    assert again[1] is not known[other]
    assert again[1].status is RunStatus.COMPLETED
    # NaN never equals itself: such a record is parsed again (and its NaN read as missing), never reused.
    first = endpoints.runs_reusing([_listed(JOB_ID, metrics={"rows_in": float("nan")})], {})
    second = endpoints.runs_reusing([_listed(JOB_ID, metrics={"rows_in": float("nan")})], {JOB_ID: first[0]})
    assert second[0] is not first[0]
    assert second[0].metrics == {"rows_in": None}


def test_list_runs_parser_reuses_and_still_caps_at_the_limit() -> None:
    known = {r.job_id: r for r in endpoints.runs_reusing([_listed(JOB_ID)], {})}
    call = endpoints.list_runs(limit=1, reuse=known)
    assert call.parse([_listed(JOB_ID)])[0] is known[JOB_ID]
    with pytest.raises(Exception, match="answered 2 runs for limit=1"):
        call.parse([_listed(JOB_ID), _listed(JOB_ID)])


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


def test_workflow_ids_are_one_path_segment() -> None:
    assert endpoints.get_workflow("wf-1.a_b:c~d").path == "/workflows/wf-1.a_b%3Ac~d"
    assert endpoints.get_workflow("  wf-1 ").path == "/workflows/wf-1"
    assert endpoints.list_workflows().path == "/workflows"


@pytest.mark.parametrize(
    "workflow_id",
    ["..", ".", "../runs", "wf/1", "wf 1", "wf%2F1", "wf?x=1", "wf#x", "wf\\1", "wf\t1", "-wf", "w" * 201],
)
def test_ids_that_would_request_another_path_are_refused_by_every_builder(workflow_id: str) -> None:
    builders = [
        lambda: endpoints.get_workflow(workflow_id),
        lambda: endpoints.run_workflow(workflow_id, idempotency_key="k"),
        lambda: endpoints.list_runs(workflow_id=workflow_id),
    ]
    for build in builders:
        with pytest.raises(SixtyfourInputError, match="is not a Sixtyfour workflow id") as raised:
            build()
        assert "never '/', '%'" in str(raised.value)


@pytest.mark.parametrize(
    "job_id", [f" {JOB_ID}\n", JOB_ID.upper(), __import__("uuid").UUID(JOB_ID)], ids=["padded", "upper", "uuid"]
)
def test_run_ids_in_their_usual_forms_are_accepted(job_id: object) -> None:
    path = endpoints.get_live_status(job_id).path  # type: ignore[arg-type]
    assert path.lower() == f"/workflows/runs/{JOB_ID}/live_status"


@pytest.mark.parametrize(
    "job_id",
    [
        JOB_ID.replace("-", ""),
        f"urn:uuid:{JOB_ID}",
        "{" + JOB_ID + "}",
        f"{JOB_ID}/..",
        "..",
        f"{JOB_ID[:-1]}%",
        None,
        42,
    ],
)
def test_run_ids_in_any_other_form_are_refused(job_id: object) -> None:
    for builder in (endpoints.get_live_status, endpoints.cancel_run, endpoints.get_download_links):
        with pytest.raises(SixtyfourInputError, match="is not a Sixtyfour run id"):
            builder(job_id)  # type: ignore[arg-type]


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
