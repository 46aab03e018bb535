"""What each hook puts on the wire, read by a recording HTTP server: headers, the one Idempotency-Key
of a retried run start, JSON bodies, and the streamed multipart upload."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.hooks.settings import user_agent
from airflow_provider_sixtyfour.protocol.endpoints import IDEMPOTENCY_KEY_HEADER, UPLOAD_FIELD_NAME

KINDS = ["sync", "async"]
JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
STARTED = json.dumps({"status": "queued", "workflow_id": "wf-1", "job_id": JOB}).encode()
BUSY = (503, "application/json", b'{"detail": "busy"}')


def header(headers: dict[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


@pytest.mark.parametrize("kind", KINDS)
def test_auth_and_user_agent_headers(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    server = stub_server((200, "application/json", b"[]"))
    make_client(kind, base_url=server.base_url)("list_workflows")
    (request,) = server.requests
    assert (request.method, request.path) == ("GET", "/workflows")
    assert header(request.headers, "x-api-key") == TEST_API_KEY
    assert header(request.headers, "User-Agent") == user_agent()
    assert re.fullmatch(r"airflow-provider-sixtyfour/\S+ apache-airflow/\S+ python/\S+", user_agent())


@pytest.mark.parametrize("kind", KINDS)
def test_run_start_retries_carry_one_idempotency_key(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    server = stub_server(BUSY, BUSY, (200, "application/json", STARTED), (200, "application/json", STARTED))
    client = make_client(kind, base_url=server.base_url)
    payload = [{"name": "Ada", "email": None}]
    client("run_workflow", "wf-1", payload, {"limit": 5}, save_json=True)
    client("run_workflow", "wf-1", payload)
    first_call, second_call = server.requests[:3], server.requests[3]
    keys = {header(r.headers, IDEMPOTENCY_KEY_HEADER) for r in first_call}
    assert len(keys) == 1  # the same key on all three tries
    assert None not in keys
    assert header(second_call.headers, IDEMPOTENCY_KEY_HEADER) not in keys  # a new call, a new key
    for request in first_call:
        assert request.query == {"workflow_id": ["wf-1"], "save_json": ["true"]}
        assert json.loads(request.body) == {"specs_override": {"limit": 5}, "webhook_payload": payload}
    assert second_call.query == {"workflow_id": ["wf-1"]}


@pytest.mark.parametrize("kind", KINDS)
def test_caller_idempotency_key_is_sent(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    server = stub_server((200, "application/json", STARTED))
    make_client(kind, base_url=server.base_url)("run_workflow", "wf-1", idempotency_key="dag.task.2026-05-01.try")
    assert header(server.requests[0].headers, IDEMPOTENCY_KEY_HEADER) == "dag.task.2026-05-01.try"


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_and_list_parameters(kind: str, make_client, stub_server) -> None:  # type: ignore[no-untyped-def]
    server = stub_server(
        (200, "application/json", json.dumps({"job_id": JOB, "status": "canceled"}).encode()),
        (200, "application/json", b"[]"),
    )
    client = make_client(kind, base_url=server.base_url)
    client("cancel_run", JOB)
    client("list_runs", status="active", workflow_id="wf-1", limit=500)
    cancel, listing = server.requests
    assert (cancel.method, cancel.path, cancel.query) == ("POST", "/workflows/cancel", {"job_id": [JOB]})
    assert json.loads(cancel.body) == {}
    assert listing.query == {"status": ["active"], "workflow_id": ["wf-1"], "limit": ["500"]}


@pytest.mark.parametrize("kind", KINDS)
def test_upload_is_a_multipart_stream_with_length(kind: str, make_client, stub_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    content = b'name,notes\nAda,"line one\nline two"\n' + b"x,y\n" * 50_000  # ~200 KB: several chunks
    path = tmp_path / 'odd "name".csv'
    path.write_bytes(content)
    server = stub_server(BUSY, (200, "application/json", b'{"handle_id": "h-1"}'))
    assert make_client(kind, base_url=server.base_url)("upload_csv", path) == "h-1"
    assert len(server.requests) == 2
    for request in server.requests:  # the retry sends the whole file again
        content_type = header(request.headers, "Content-Type") or ""
        assert content_type.startswith("multipart/form-data; boundary=")
        assert header(request.headers, "Content-Length") == str(len(request.body))
        assert header(request.headers, "Transfer-Encoding") is None
        boundary = content_type.split("boundary=")[1].encode()
        head, rest = request.body.split(b"\r\n\r\n", 1)
        assert head.startswith(b"--" + boundary)
        assert f'name="{UPLOAD_FIELD_NAME}"; filename="odd %22name%22.csv"'.encode() in head
        assert b"Content-Type: text/csv" in head
        assert rest == content + b"\r\n--" + boundary + b"--\r\n"
