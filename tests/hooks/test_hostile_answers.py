"""Hostile servers, part 3: what an answer may hold. Echoed keys are masked, slow answers time out whole,
big answers are capped, list answers never exceed their limit, and the nested error shape is read.

Issue 11 items 3, 5 (API part), 10 and 16. Real HTTP to a server of the test's own (:mod:`hostile`),
through both hooks; the trigger's events are checked through the trigger itself.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any

import pytest
from helpers.hooks import AllLogs, point_conn
from helpers.keys import TEST_API_KEY
from helpers.triggers import first_event
from hostile_wire import Exchange, answer, drip, endless, head

from airflow_provider_sixtyfour.hooks.retrying import OFF_LOOP_PARSE_BYTES
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.answers import MAX_ANSWER_BYTES
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourAuthError,
    SixtyfourError,
    SixtyfourResponseError,
    SixtyfourServerError,
    SixtyfourTransportError,
    SixtyfourValidationError,
)
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

KINDS = ["sync", "async"]
JOB_ID = str(uuid.UUID(int=11))
SIGNED = "https://storage.example/results/out.csv?X-Amz-Signature=deadbeef0123&X-Amz-Expires=900"
HANG_GUARD = 60.0


def raised(action: Any) -> SixtyfourError:
    with pytest.raises(SixtyfourError) as info:
        action()
    return info.value


# -- item 3: an answer that echoes the key (or a signed URL) ---------------------------------------


def echo(status: int, shape: str) -> Any:
    """An error answer that repeats the request's ``x-api-key`` (and a signed URL), as some gateways do."""

    def behave(exchange: Exchange) -> bool:
        key = exchange.request.headers.get("x-api-key", "")
        bodies = {
            "detail": {"detail": f"key {key} is not valid here; see {SIGNED}"},
            "nested": {"error": {"code": f"bad_key_{key}", "message": f"rejected {key}"}},
            "html": f"<html><body>Denied for x-api-key: {key} ({SIGNED})</body></html>",
            "text": f"upstream said no to {key} at {SIGNED}",
            "details": {"detail": [{"loc": ["header", "x-api-key"], "msg": "invalid", "input": key}]},
        }
        body = bodies[shape]
        kind = "text/html" if isinstance(body, str) else "application/json"
        return answer(status, body, content_type=kind)(exchange)

    return behave


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", ["detail", "nested", "html", "text", "details"])
@pytest.mark.parametrize("status", [401, 422, 503])
def test_an_error_body_echoing_the_key_never_shows_it(
    kind: str,
    shape: str,
    status: int,
    wire_server,  # type: ignore[no-untyped-def]
    client_on,  # type: ignore[no-untyped-def]
    all_logs: AllLogs,
) -> None:
    api = wire_server(echo(status, shape))
    err = raised(lambda: client_on(kind, api.base_url, max_retries=1)("list_workflows"))
    shown = " ".join([str(err), repr(getattr(err, "details", "")), str(getattr(err, "code", ""))])
    assert TEST_API_KEY not in shown
    assert "deadbeef0123" not in shown
    assert f"HTTP {status}" in str(err)
    if shape in ("detail", "nested", "text"):
        assert "***" in str(err)
    if shape in ("detail", "text"):
        assert "https://storage.example/results/out.csv?<redacted>" in str(err)
    assert TEST_API_KEY not in all_logs.text


@pytest.mark.parametrize("kind", KINDS)
def test_the_connection_test_message_never_shows_an_echoed_key(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(echo(401, "detail"))
    ok, message = client_on(kind, api.base_url)("test_connection")
    assert ok is False
    assert message.startswith("GET /workflows failed with HTTP 401: key *** is not valid here")
    assert TEST_API_KEY not in message


@pytest.mark.parametrize("kind", KINDS)
def test_a_record_echoing_the_key_is_masked(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    def failed_run(exchange: Exchange) -> bool:
        key = exchange.request.headers["x-api-key"]
        return answer(200, live_status("failed", error=f"upstream refused key {key}"))(exchange)

    api = wire_server(failed_run)
    status = client_on(kind, api.base_url)("get_live_status", JOB_ID)
    assert status.error_message == "enrich: upstream refused key ***"
    assert TEST_API_KEY not in json.dumps(status.raw)


def live_status(state: str, error: str | None = None) -> dict[str, Any]:
    block = {"block_name": "enrich", "sequence_number": 1, "status": state, "error_message": error}
    return {"run_id": JOB_ID, "workflow_id": "wf-1", "overall_status": state, "blocks": [block]}


async def test_trigger_events_never_show_an_echoed_key(wire_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    forbidden = wire_server(echo(403, "detail"))
    point_conn(monkeypatch, forbidden.base_url, "sixtyfour_echo_error")
    error = await first_event(
        SixtyfourWorkflowRunTrigger(JOB_ID, "sixtyfour_echo_error", poll_interval=0.1), HANG_GUARD
    )
    assert error["status"] == "error"
    assert "HTTP 403: key *** is not valid here" in error["message"]

    def failed_run(exchange: Exchange) -> bool:
        return answer(200, live_status("failed", error=f"bad {exchange.request.headers['x-api-key']}"))(exchange)

    failing = wire_server(failed_run)
    point_conn(monkeypatch, failing.base_url, "sixtyfour_echo_failed")
    failed = await first_event(
        SixtyfourWorkflowRunTrigger(JOB_ID, "sixtyfour_echo_failed", poll_interval=0.1), HANG_GUARD
    )
    assert failed["status"] == "failed"
    assert failed["message"] == f"Sixtyfour run {JOB_ID} failed: enrich: bad ***"
    for payload in (error, failed):
        assert TEST_API_KEY not in json.dumps(payload)


# -- item 5: an answer must arrive whole within the timeout ----------------------------------------

WORKFLOWS = json.dumps([{"id": "wf-1", "name": "A", "status": "ready", "step": "x"}]).encode()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["status-line", "headers", "body"])
def test_an_answer_dripped_a_byte_at_a_time_times_out_whole(kind: str, where: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    whole = head(200, {"Content-Type": "application/json", "Content-Length": str(len(WORKFLOWS))}) + WORKFLOWS
    fast_part = {"status-line": 0, "headers": 20, "body": len(whole) - len(WORKFLOWS) + 2}[where]

    def slow(exchange: Exchange) -> None:
        exchange.send(whole[:fast_part])
        drip(whole[fast_part:], every=0.25)(exchange)  # each read well inside the 1 s timeout

    api = wire_server(slow)
    err = raised(lambda: client_on(kind, api.base_url, timeout=1, max_retries=1)("list_workflows"))
    assert isinstance(err, SixtyfourTransportError)
    assert "no whole answer within 1 s (the connection's timeout) (after 2 attempts)" in str(err)
    assert len(api.requests) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_a_slow_but_whole_answer_within_the_timeout_is_taken(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    whole = head(200, {"Content-Type": "application/json", "Content-Length": str(len(WORKFLOWS))}) + WORKFLOWS

    def slow(exchange: Exchange) -> None:
        exchange.send(whole[:-4])
        drip(whole[-4:], every=0.05)(exchange)

    api = wire_server(slow)
    assert [w.id for w in client_on(kind, api.base_url, timeout=30)("list_workflows")] == ["wf-1"]


# -- item 10: answer size, list length, parsing off the event loop ---------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_endless_answer_is_cut_at_the_cap(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(endless(200))
    err = raised(lambda: client_on(kind, api.base_url, timeout=60)("list_workflows"))
    assert isinstance(err, SixtyfourResponseError)
    assert f"the answer is more than {MAX_ANSWER_BYTES} bytes; answers over 32 MiB are not read" in str(err)
    assert len(api.requests) == 1


@pytest.mark.parametrize("kind", KINDS)
def test_an_announced_huge_answer_is_not_read_at_all(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []

    def huge(exchange: Exchange) -> None:
        endless(200, headers={"Content-Length": str(10 * 1024**3)})(exchange)
        sent.append(exchange.sent)

    api = wire_server(huge)
    err = raised(lambda: client_on(kind, api.base_url, timeout=60)("list_workflows"))
    assert "the answer is 10737418240 bytes (Content-Length)" in str(err)


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_error_page_is_cut_and_the_status_still_counts(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(endless(503, chunk=b"<html>busy</html>" * 4096, headers={"Content-Type": "text/html"}))
    err = raised(lambda: client_on(kind, api.base_url, max_retries=1, timeout=60)("list_workflows"))
    assert isinstance(err, SixtyfourServerError)
    assert "HTTP 503" in str(err)
    assert len(api.requests) == 2  # retried as any 503


def runs(count: int) -> list[dict[str, Any]]:
    return [{"job_id": str(uuid.UUID(int=i + 1)), "workflow_id": "wf-1", "status": "running"} for i in range(count)]


@pytest.mark.parametrize("kind", KINDS)
def test_a_list_answer_with_more_runs_than_the_limit_is_refused(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(answer(200, runs(6)), answer(200, runs(5)))
    client = client_on(kind, api.base_url)
    err = raised(lambda: client("list_runs", limit=5))
    assert isinstance(err, SixtyfourResponseError)
    assert "the API answered 6 runs for limit=5; an answer with more runs than asked for is not taken" in str(err)
    assert len(client("list_runs", limit=5)) == 5


def where_parsed(conn_id: str) -> tuple[int, int]:
    """(the event loop's thread, the thread that parsed the answer) for one call of the async hook."""
    threads: list[int] = []

    def parse(data: Any) -> Any:
        threads.append(threading.get_ident())
        return data

    call = ApiCall(method="GET", route=endpoints.LIST_RUNS, path=endpoints.LIST_RUNS, parse=parse)

    async def go() -> int:
        async with SixtyfourAsyncHook(conn_id) as hook:
            await (await hook.get_transport()).request(call)
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    return loop_thread, threads[0]


@pytest.mark.parametrize(("count", "off_loop"), [(OFF_LOOP_PARSE_BYTES // 60, True), (3, False)])
def test_a_large_answer_is_parsed_off_the_event_loop(
    count: int,
    off_loop: bool,
    wire_server,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    body = json.dumps(runs(count)).encode()
    assert (len(body) > OFF_LOOP_PARSE_BYTES) is off_loop
    server = wire_server(answer(200, body))
    loop_thread, parse_thread = where_parsed(point_conn(monkeypatch, server.base_url, "sixtyfour_parse"))
    assert (parse_thread != loop_thread) is off_loop


# -- item 16: the nested error shape ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("status", "body", "error", "message", "code"),
    [
        (
            401,
            {"error": {"code": "invalid_api_key", "message": "The API key is not valid"}},
            SixtyfourAuthError,
            "HTTP 401: invalid_api_key: The API key is not valid",
            "invalid_api_key",
        ),
        (
            422,
            {"error": {"code": "limit_out_of_range", "message": "limit must be at most 500"}},
            SixtyfourValidationError,
            "HTTP 422: limit_out_of_range: limit must be at most 500",
            "limit_out_of_range",
        ),
        (400, {"error": {"message": "no code given"}}, SixtyfourValidationError, "HTTP 400: no code given", None),
        (400, {"error": {"code": 4001}}, SixtyfourValidationError, "HTTP 400: 4001", "4001"),
    ],
)
def test_the_nested_error_shape_is_read(
    kind: str,
    status: int,
    body: Any,
    error: type[SixtyfourError],
    message: str,
    code: str | None,
    wire_server,  # type: ignore[no-untyped-def]
    client_on,  # type: ignore[no-untyped-def]
) -> None:
    api = wire_server(answer(status, body))
    err = raised(lambda: client_on(kind, api.base_url)("list_workflows"))
    assert type(err) is error
    assert message in str(err)
    assert err.code == code  # type: ignore[attr-defined]
