"""Each error status and answer shape → the right exception, a message with status, method, path and the
API's message, never the key, and client errors never retried (counted in the emulator's stats)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable

import pytest
from helpers.hooks import FAST_WORKFLOW, HookClient
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.protocol.endpoints import (
    GET_WORKFLOW,
    LIST_RUNS,
    LIST_WORKFLOWS,
    LIVE_STATUS,
    RUN_WORKFLOW,
)
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourApiError,
    SixtyfourAuthError,
    SixtyfourConflictError,
    SixtyfourError,
    SixtyfourForbiddenError,
    SixtyfourInsufficientCreditError,
    SixtyfourNotFoundError,
    SixtyfourRateLimitError,
    SixtyfourResponseError,
    SixtyfourServerError,
    SixtyfourValidationError,
)

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
LEADS = [{"name": "Ada"}]


def raised(call: Callable[[], object]) -> SixtyfourError:
    with pytest.raises(SixtyfourError) as info:
        call()
    err = info.value
    rendered = "".join(traceback.format_exception(err))
    assert TEST_API_KEY not in rendered
    return err


def test_401_wrong_key(make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    wrong = "sk-not-the-right-key-123456789"
    for kind in ("sync", "async"):
        client = make_client(kind, api_key=wrong, conn_id=f"sixtyfour_wrong_{kind}")
        err = raised(lambda client=client: client("list_workflows"))
        assert type(err) is SixtyfourAuthError
        assert str(err).startswith("GET /workflows failed with HTTP 401: Unauthorized: Invalid API key")
        assert "password field" in str(err)
        assert wrong not in str(err)
    assert emulator.request_count(LIST_WORKFLOWS) == 2  # once per hook: 401 is not retried


def test_402_insufficient_credit(client: HookClient, workflows: EmulatorServer) -> None:
    err = raised(lambda: client("run_workflow", "wf-demo-expensive", LEADS))
    assert isinstance(err, SixtyfourInsufficientCreditError)
    assert err.status_code == 402
    assert "POST /workflows/run failed with HTTP 402: Insufficient credit balance" in str(err)
    assert workflows.request_count(RUN_WORKFLOW) == 1
    assert workflows.runs_started() == 0


def test_403_feature_not_enabled(client: HookClient, workflows: EmulatorServer) -> None:
    err = raised(lambda: client("run_workflow", "wf-demo-no-json", LEADS, save_json=True))
    assert type(err) is SixtyfourForbiddenError
    assert isinstance(err, SixtyfourAuthError)
    assert "HTTP 403: Saving results as JSON (save_json) is not enabled" in str(err)
    assert workflows.request_count(RUN_WORKFLOW) == 1


def test_404_unknown_workflow_and_run(client: HookClient, workflows: EmulatorServer) -> None:
    err = raised(lambda: client("run_workflow", "wf-missing", LEADS))
    assert isinstance(err, SixtyfourNotFoundError)
    assert "POST /workflows/run failed with HTTP 404: Workflow not found" in str(err)
    err = raised(lambda: client("get_live_status", JOB_ID))
    assert isinstance(err, SixtyfourNotFoundError)
    assert f"GET /workflows/runs/{JOB_ID}/live_status failed with HTTP 404" in str(err)
    assert workflows.request_count(RUN_WORKFLOW) == 1
    assert workflows.request_count(LIVE_STATUS) == 1


def test_409_idempotency_key_reused_for_another_request(client: HookClient, workflows: EmulatorServer) -> None:
    client("run_workflow", FAST_WORKFLOW, LEADS, idempotency_key="key-409")
    err = raised(lambda: client("run_workflow", FAST_WORKFLOW, [{"name": "Someone else"}], idempotency_key="key-409"))
    assert isinstance(err, SixtyfourConflictError)
    assert "HTTP 409: Idempotency-Key was already used for a different request" in str(err)
    assert workflows.request_count(RUN_WORKFLOW) == 2
    assert workflows.runs_started() == 1


def test_400_payload_for_a_csv_workflow(client: HookClient, workflows: EmulatorServer) -> None:
    err = raised(lambda: client("run_workflow", "wf-demo-read-csv", LEADS))
    assert isinstance(err, SixtyfourValidationError)
    assert err.status_code == 400
    assert "POST /workflows/run failed with HTTP 400" in str(err)
    assert workflows.request_count(RUN_WORKFLOW) == 1


def test_422_with_details(client: HookClient, workflows: EmulatorServer) -> None:
    workflows.add_fault(FaultRule(route=LIST_RUNS, kind="status", status=422, detail="Input should be 'active'"))
    err = raised(lambda: client("list_runs", status="active"))
    assert isinstance(err, SixtyfourValidationError)
    assert "GET /workflows/runs failed with HTTP 422: body: Input should be 'active'" in str(err)
    assert err.details == [{"type": "value_error", "loc": ["body"], "msg": "Input should be 'active'", "input": None}]
    assert workflows.request_count(LIST_RUNS) == 1


def test_429s_are_retried_past_max_retries(make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    """429s are budgeted by time, so four of them do not use up two retries."""
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=429, retry_after=0, count=4))
    assert make_client("sync", max_retries=2)("list_workflows")
    assert emulator.request_count(LIST_WORKFLOWS) == 5


def test_429_without_retries(make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=429, retry_after=0))
    err = raised(lambda: make_client("sync", max_retries=0)("list_workflows"))
    assert isinstance(err, SixtyfourRateLimitError)
    assert "GET /workflows failed with HTTP 429: Too Many Requests: Rate limit exceeded" in str(err)
    assert err.retry_after == 0.0
    assert emulator.request_count(LIST_WORKFLOWS) == 1


@pytest.mark.parametrize("status", [500, 503])
def test_5xx_budget_exhausted(make_client, emulator: EmulatorServer, status: int) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=GET_WORKFLOW, kind="status", status=status))
    for kind in ("sync", "async"):
        err = raised(lambda kind=kind: make_client(kind, max_retries=2, conn_id=f"c_{kind}")("get_workflow", "wf-x"))
        assert type(err) is SixtyfourServerError
        assert f"GET /workflows/wf-x failed with HTTP {status}" in str(err)
    assert emulator.request_count(GET_WORKFLOW) == 6  # 3 tries per hook


def test_502_html_gateway_page(make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=502))
    err = raised(lambda: make_client("async", max_retries=0)("list_workflows"))
    assert isinstance(err, SixtyfourServerError)
    assert "GET /workflows failed with HTTP 502: Bad Gateway" in str(err)
    assert "HTML page" in str(err)


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 422])
def test_client_errors_never_retried(make_client, emulator: EmulatorServer, status: int) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=status))
    err = raised(lambda: make_client("sync", max_retries=5)("list_workflows"))
    assert isinstance(err, SixtyfourApiError)
    assert err.status_code == status
    assert f"GET /workflows failed with HTTP {status}" in str(err)
    assert emulator.request_count(LIST_WORKFLOWS) == 1


# ---- answers no API should give: a proxy's HTML page with 200, JSON without the documented fields ----


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_200_html_page(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    page = b"<!DOCTYPE html><html><body>Sign in to the corporate proxy</body></html>"
    url = stub_server((200, "text/html", page)).base_url
    err = raised(lambda: make_client(kind, base_url=url)("list_workflows"))
    assert isinstance(err, SixtyfourResponseError)
    assert "GET /workflows answered something this provider cannot read" in str(err)
    assert "an HTML page" in str(err)
    assert "wrong base URL" in str(err)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_200_missing_required_fields(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    url = stub_server(
        (200, "application/json", json.dumps({"status": "queued", "workflow_id": "wf-1"}).encode())
    ).base_url
    err = raised(lambda: make_client(kind, base_url=url)("run_workflow", "wf-1", LEADS))
    assert isinstance(err, SixtyfourResponseError)
    assert "POST /workflows/run answered something this provider cannot read: required field 'job_id' is missing" in (
        str(err)
    )


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_500_plain_text_body(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    url = stub_server((500, "text/plain", b"upstream exploded")).base_url
    err = raised(lambda: make_client(kind, base_url=url, max_retries=0)("get_live_status", JOB_ID))
    assert isinstance(err, SixtyfourServerError)
    assert f"GET /workflows/runs/{JOB_ID}/live_status failed with HTTP 500" in str(err)
    assert "upstream exploded" in str(err)
