"""Every hook method, sync and async, over real HTTP against the emulator."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.hooks import FAST_WORKFLOW, SLOW_WORKFLOW, HookClient, wait_for
from helpers.keys import TEST_API_KEY
from helpers.net import free_port

from airflow_provider_sixtyfour.emulator import EmulatorServer
from airflow_provider_sixtyfour.protocol.endpoints import RUN_WORKFLOW, UPLOAD_CSV
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, SixtyfourNotFoundError
from airflow_provider_sixtyfour.protocol.models import RunStarted
from airflow_provider_sixtyfour.protocol.statuses import BlockStatus, RunStatus

LEADS = [{"name": "Ada Lovelace", "company": "Analytical Engines"}, {"name": "Grace Hopper", "company": "Navy"}]
CSV = b'name,domain,notes\nAcme,acme.com,"multi\nline"\nGlobex,globex.com,plain\n'


def finished(client: HookClient, job_id: str) -> object:
    status = client("get_live_status", job_id)
    return status if status.status.is_terminal else None


def test_run_workflow_with_webhook_payload(client: HookClient, workflows: EmulatorServer) -> None:
    started = client("run_workflow", FAST_WORKFLOW, LEADS)
    assert isinstance(started, RunStarted)
    assert started.workflow_id == FAST_WORKFLOW
    assert started.status is RunStatus.QUEUED
    assert started.already_started is False
    uuid.UUID(started.job_id)
    assert workflows.runs_started() == 1
    assert workflows.get_run(started.job_id) is not None


def test_run_workflow_with_a_caller_key_reattaches(client: HookClient, workflows: EmulatorServer) -> None:
    key = f"dag-task-try-{uuid.uuid4()}"
    first = client("run_workflow", FAST_WORKFLOW, LEADS, idempotency_key=key)
    second = client("run_workflow", FAST_WORKFLOW, LEADS, idempotency_key=key)
    assert second.job_id == first.job_id
    assert second.already_started is True
    assert workflows.runs_started() == 1


def test_run_workflow_without_key_starts_new_runs(client: HookClient, workflows: EmulatorServer) -> None:
    first = client("run_workflow", FAST_WORKFLOW, LEADS)
    second = client("run_workflow", FAST_WORKFLOW, LEADS)
    assert first.job_id != second.job_id
    assert workflows.runs_started() == 2


def test_bad_input_fails_before_any_request(client: HookClient, workflows: EmulatorServer) -> None:
    with pytest.raises(SixtyfourInputError, match="webhook_payload must be a dict or a list of dicts"):
        client("run_workflow", FAST_WORKFLOW, "name,company")
    with pytest.raises(SixtyfourInputError, match="not a Sixtyfour run id"):
        client("get_live_status", "not-a-run")
    with pytest.raises(SixtyfourInputError, match="limit must be an integer from 1 to 500"):
        client("list_runs", limit=1000)
    assert workflows.request_count() == 0


def test_list_runs_filters_and_orders(client: HookClient, workflows: EmulatorServer) -> None:
    older = client("run_workflow", SLOW_WORKFLOW, LEADS)
    newer = client("run_workflow", SLOW_WORKFLOW, LEADS)
    other = client("run_workflow", FAST_WORKFLOW, LEADS)
    runs = client("list_runs", workflow_id=SLOW_WORKFLOW)
    assert [r.job_id for r in runs] == [newer.job_id, older.job_id]
    assert all(r.workflow_id == SLOW_WORKFLOW for r in runs)
    active = client("list_runs", status="active", limit=500)
    assert {older.job_id, newer.job_id} <= {r.job_id for r in active}
    assert all(r.status.is_active for r in active)
    assert len(client("list_runs", limit=1)) == 1
    wait_for(lambda: finished(client, other.job_id), "the fast run to finish")
    completed = client("list_runs", status="completed")
    assert [r.job_id for r in completed] == [other.job_id]
    assert completed[0].status is RunStatus.COMPLETED


def test_list_runs_reuses_the_records_of_runs_listed_unchanged(client: HookClient, workflows: EmulatorServer) -> None:
    slow = client("run_workflow", SLOW_WORKFLOW, LEADS)
    fast = client("run_workflow", FAST_WORKFLOW, LEADS)
    wait_for(lambda: finished(client, fast.job_id), "the fast run to finish")
    first = client("list_runs")
    again = client("list_runs", reuse={r.job_id: r for r in first})
    assert [r.job_id for r in again] == [r.job_id for r in first]
    assert all(new is old for new, old in zip(again, first, strict=True))  # nothing changed: no new objects
    # A record that no longer matches the answer is parsed anew, never taken for it.
    stale = {r.job_id: replace(r, status=RunStatus.QUEUED, raw={**r.raw, "status": "queued"}) for r in first}
    fresh = client("list_runs", reuse=stale)
    assert all(new is not stale[new.job_id] for new in fresh)
    assert {r.job_id: r.status for r in fresh}[fast.job_id] is RunStatus.COMPLETED
    assert {r.job_id: r for r in fresh}[slow.job_id] == {r.job_id: r for r in first}[slow.job_id]


def test_live_status_advances_to_completed(client: HookClient) -> None:
    started = client("run_workflow", FAST_WORKFLOW, LEADS)
    first = client("get_live_status", started.job_id)
    assert first.job_id == started.job_id
    assert first.status in (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.COMPLETED)
    done = wait_for(lambda: finished(client, started.job_id), "the run to finish")
    assert done.status is RunStatus.COMPLETED
    assert done.progress_percentage == 100
    assert [b.block_name for b in done.blocks] == ["webhook", "enrich_lead", "find_email"]
    assert all(b.status is BlockStatus.COMPLETED for b in done.blocks)


def test_cancel_run(client: HookClient, workflows: EmulatorServer) -> None:
    started = client("run_workflow", SLOW_WORKFLOW, LEADS)
    result = client("cancel_run", started.job_id)
    assert result.job_id == started.job_id
    assert result.status in (RunStatus.CANCELLED, RunStatus.QUEUED, RunStatus.RUNNING)
    done = wait_for(lambda: finished(client, started.job_id), "the cancellation to take effect")
    assert done.status is RunStatus.CANCELLED
    assert workflows.cancel_requests(started.job_id) == 1
    again = client("cancel_run", started.job_id)
    assert again.status is RunStatus.CANCELLED


def test_download_links(client: HookClient, workflows: EmulatorServer) -> None:
    started = client("run_workflow", FAST_WORKFLOW, LEADS, save_json=True)
    wait_for(lambda: finished(client, started.job_id), "the run to finish")
    links = client("get_download_links", started.job_id)
    assert sorted(link.block_number for link in links) == [1, 2, 3]
    for link in links:
        assert link.download_url is not None
        assert "?" in link.download_url
        assert link.safe_url.endswith("?<redacted>")
        assert link.filename.endswith(".csv")
        assert link.download_url.split("?")[0] not in repr(link)
    json_links = client("get_download_links", started.job_id, format="json")
    assert json_links
    assert all(link.filename.endswith(".json") for link in json_links)
    ndjson_links = client("get_download_links", started.job_id, format="ndjson")
    assert sorted(link.block_number for link in ndjson_links) == [1, 2, 3]
    assert all(link.filename.endswith(".ndjson") for link in ndjson_links)


def test_upload_csv_from_path_then_run(client: HookClient, workflows: EmulatorServer, tmp_path: Path) -> None:
    path = tmp_path / "companies.csv"
    path.write_bytes(CSV)
    handle = client("upload_csv", path)
    assert isinstance(handle, str)
    assert handle
    started = client("run_workflow", "wf-demo-read-csv", specs_override={"resource_handle_id": handle})
    assert started.workflow_id == "wf-demo-read-csv"
    assert workflows.stats()["uploads"] == 1


def test_upload_csv_from_file_object(client: HookClient, workflows: EmulatorServer) -> None:
    stream = io.BytesIO(CSV)
    handle = client("upload_csv", stream)
    assert handle
    assert not stream.closed  # the caller's file stays open
    assert workflows.stats()["uploads"] == 1


def test_upload_csv_from_str_path_keeps_its_name(client: HookClient, tmp_path: Path) -> None:
    path = tmp_path / "leads-2026.csv"
    path.write_bytes(CSV)
    assert client("upload_csv", str(path))


def test_upload_csv_bad_inputs(client: HookClient, workflows: EmulatorServer, tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(SixtyfourInputError, match=r"cannot read the CSV to upload at '.*nope\.csv'"):
        client("upload_csv", missing)
    with pytest.raises(SixtyfourInputError, match="cannot read the CSV"):
        client("upload_csv", tmp_path)  # a directory
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(SixtyfourInputError, match="is empty"):
        client("upload_csv", tmp_path / "empty.csv")
    with pytest.raises(SixtyfourInputError, match="binary mode"):
        client("upload_csv", io.StringIO("a,b\n1,2\n"))
    with pytest.raises(SixtyfourInputError, match="local path or a binary file object"):
        client("upload_csv", 42)
    assert workflows.request_count(UPLOAD_CSV) == 0


def test_get_workflow_and_list_workflows(client: HookClient) -> None:
    csv_flow = client("get_workflow", "wf-demo-read-csv")
    assert csv_flow.id == "wf-demo-read-csv"
    assert csv_flow.takes_csv_upload
    assert not csv_flow.takes_webhook_payload
    assert client("get_workflow", "wf-demo-webhook").takes_webhook_payload
    listed = {w.id for w in client("list_workflows")}
    assert {"wf-demo-webhook", "wf-demo-read-csv", FAST_WORKFLOW, SLOW_WORKFLOW} <= listed
    with pytest.raises(SixtyfourNotFoundError, match="Workflow not found"):
        client("get_workflow", "wf-does-not-exist")


def test_test_connection_success(client: HookClient, workflows: EmulatorServer) -> None:
    ok, message = client("test_connection")
    count = len(client("list_workflows"))
    assert ok is True
    assert message == f"Connected to Sixtyfour at {workflows.base_url}: {count} workflows visible"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_test_connection_wrong_key(kind: str, make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    wrong = "sk-wrong-0000000000000000"
    ok, message = make_client(kind, api_key=wrong)("test_connection")
    assert ok is False
    assert "GET /workflows failed with HTTP 401" in message
    assert "Invalid API key" in message
    assert wrong not in message
    assert TEST_API_KEY not in message


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_test_connection_unreachable(kind: str, make_client) -> None:  # type: ignore[no-untyped-def]
    ok, message = make_client(kind, base_url=f"http://127.0.0.1:{free_port()}", max_retries=0)("test_connection")
    assert ok is False
    assert "GET /workflows failed before an answer arrived" in message
    assert "refused" in message.lower()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_test_connection_missing_connection(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SIXTYFOUR_ABSENT", raising=False)
    hook_client = HookClient(kind, "sixtyfour_absent")
    try:
        ok, message = hook_client("test_connection")
    finally:
        hook_client.close()
    assert ok is False
    assert "no connection 'sixtyfour_absent'" in message


def test_run_url(client: HookClient, workflows: EmulatorServer) -> None:
    started = client("run_workflow", FAST_WORKFLOW, LEADS)
    assert client("run_url", started.job_id) == f"https://app.sixtyfour.ai/workflows/runs/{started.job_id}"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_run_url_uses_app_url_extra(kind: str, make_client) -> None:  # type: ignore[no-untyped-def]
    hook_client = make_client(kind, app_url="https://app.example/")
    hook_client("list_workflows")  # the async hook reads its settings on first use
    assert hook_client("run_url", "abc") == "https://app.example/workflows/runs/abc"


def test_one_run_request_per_start(client: HookClient, workflows: EmulatorServer) -> None:
    client("run_workflow", FAST_WORKFLOW, LEADS)
    assert workflows.request_count(RUN_WORKFLOW, api_key=TEST_API_KEY) == 1
