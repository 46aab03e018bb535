"""The emulator and the provider share one API definition: every answer, built and read with the
protocol's own request builders and parsers, comes back as the typed record or the mapped error."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import DEFAULT_WORKFLOWS, EmulatorServer, FaultRule
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourAuthError,
    SixtyfourConflictError,
    SixtyfourForbiddenError,
    SixtyfourInsufficientCreditError,
    SixtyfourNotFoundError,
    SixtyfourRateLimitError,
    SixtyfourServerError,
    SixtyfourValidationError,
)
from airflow_provider_sixtyfour.protocol.models import (
    CancelResult,
    DownloadLink,
    LiveStatus,
    RunRecord,
    RunStarted,
    Workflow,
)
from airflow_provider_sixtyfour.protocol.statuses import BlockStatus, RunStatus
from emulator.helpers import CSV_FLOW, FAILING, FAST, SLOW, TEST_WORKFLOWS, Api, send


def test_every_route_parses_into_protocol_records(api: Api) -> None:
    key = endpoints.new_idempotency_key()
    started = send(api, endpoints.run_workflow(FAST, [{"name": "Ada"}], idempotency_key=key, save_json=True))
    assert isinstance(started, RunStarted)
    assert started.status is RunStatus.QUEUED
    assert started.already_started is False
    again = send(api, endpoints.run_workflow(FAST, [{"name": "Ada"}], idempotency_key=key, save_json=True))
    assert again.job_id == started.job_id
    assert again.already_started is True

    live = send(api, endpoints.get_live_status(started.job_id))
    assert isinstance(live, LiveStatus)
    assert live.run_id == started.job_id
    assert [b.block_name for b in live.blocks] == ["webhook", "enrich_lead", "find_email"]
    runs = send(api, endpoints.list_runs(status="active"))
    assert [r.job_id for r in runs] == [started.job_id]
    assert all(isinstance(r, RunRecord) for r in runs)

    final = api.wait_terminal(started.job_id)
    assert LiveStatus.from_api(final).status is RunStatus.COMPLETED
    links = send(api, endpoints.get_download_links(started.job_id))
    assert [type(link) for link in links] == [DownloadLink] * 3
    assert max(links, key=lambda link: link.block_number or 0).filename.endswith("find_email.csv")
    assert all(link.file_size and link.row_count == 1 for link in links)
    assert "signature" not in repr(links)
    json_links = send(api, endpoints.get_download_links(started.job_id, format="json"))
    assert all(link.content_type == "application/json" for link in json_links)

    cancel = send(api, endpoints.cancel_run(started.job_id))
    assert isinstance(cancel, CancelResult)
    assert cancel.status is RunStatus.COMPLETED  # already terminal: answered unchanged

    workflows = send(api, endpoints.list_workflows())
    assert {w.id for w in workflows} >= {FAST, SLOW, FAILING, CSV_FLOW}
    workflow = send(api, endpoints.get_workflow(CSV_FLOW))
    assert isinstance(workflow, Workflow)
    assert workflow.takes_csv_upload
    assert not workflow.takes_webhook_payload

    handle = send(api, endpoints.upload_csv("leads.csv", io.BytesIO(b"company,domain\nAcme,acme.example\n")))
    assert handle.startswith("csv_")
    csv_run = send(
        api,
        endpoints.run_workflow(
            CSV_FLOW, specs_override={endpoints.RESOURCE_HANDLE_SPEC_KEY: handle}, idempotency_key="csv-1"
        ),
    )
    assert csv_run.workflow_id == CSV_FLOW


def test_cancel_spellings_parse_to_cancelled(api: Api) -> None:
    job_id = api.start_ok(SLOW)
    answer = send(api, endpoints.cancel_run(job_id))
    assert answer.raw["status"] == "canceled"
    assert answer.status is RunStatus.CANCELLED
    live = LiveStatus.from_api(api.wait_terminal(job_id))
    assert live.status is RunStatus.CANCELLED
    listed = send(api, endpoints.list_runs(status="cancelled"))
    assert [r.job_id for r in listed] == [job_id]
    assert listed[0].raw["status"] == "cancelled"


def test_failed_run_carries_its_reason(api: Api) -> None:
    job_id = api.start_ok(FAILING, [{"name": "Grace"}])
    live = LiveStatus.from_api(api.wait_terminal(job_id))
    assert live.status is RunStatus.FAILED
    failed = [b for b in live.blocks if b.status is BlockStatus.FAILED]
    assert [b.sequence_number for b in failed] == [2]
    assert live.error_message is not None
    assert "Lead provider timed out" in live.error_message
    (record,) = send(api, endpoints.list_runs(workflow_id=FAILING))
    assert record.status is RunStatus.FAILED
    assert record.error_message == "Lead provider timed out"
    assert record.status_reason
    assert "enrich_lead" in record.status_reason


@pytest.mark.parametrize(
    ("setup", "call", "error"),
    [
        ("bad-key", endpoints.list_workflows(), SixtyfourAuthError),
        (None, endpoints.get_workflow("wf-does-not-exist"), SixtyfourNotFoundError),
        (None, endpoints.get_live_status("3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"), SixtyfourNotFoundError),
        (None, endpoints.run_workflow(CSV_FLOW, [{"a": 1}], idempotency_key="k-400"), SixtyfourValidationError),
        (None, endpoints.run_workflow("wf-demo-expensive", idempotency_key="k-402"), SixtyfourInsufficientCreditError),
        (
            None,
            endpoints.run_workflow("wf-demo-no-json", save_json=True, idempotency_key="k-403"),
            SixtyfourForbiddenError,
        ),
        ("409", endpoints.cancel_run("3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"), SixtyfourConflictError),
        ("429", endpoints.list_runs(), SixtyfourRateLimitError),
        ("503", endpoints.list_runs(), SixtyfourServerError),
        ("502", endpoints.list_runs(), SixtyfourServerError),
    ],
)
def test_error_answers_map_to_protocol_errors(
    make_server: Callable[..., EmulatorServer],
    setup: str | None,
    call: endpoints.ApiCall[object],
    error: type[Exception],
) -> None:
    server = make_server(workflows=(*TEST_WORKFLOWS, *DEFAULT_WORKFLOWS))
    api = Api(server.base_url, api_key="wrong-key" if setup == "bad-key" else TEST_API_KEY)
    if setup in ("409", "429", "503", "502"):
        server.add_fault(FaultRule(route=call.route, kind="status", status=int(setup), retry_after=2))
    with pytest.raises(error) as caught:
        send(api, call)
    err = caught.value
    assert getattr(err, "status_code", None) in (400, 401, 402, 403, 404, 409, 422, 429, 502, 503)
    assert call.path in str(err)
    if setup == "429":
        assert getattr(err, "retry_after", None) == 2
    assert "wrong-key" not in str(err)
