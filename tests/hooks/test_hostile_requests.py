"""Hostile servers, part 1: redirects are never followed, and no raw ``requests``/``httpx`` exception escapes.

Issue 11 items 1 and 12 (HTTP part). Every test talks real HTTP to a server of its own
(:mod:`hostile`) on 127.0.0.1, through the sync hook and the async hook alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from helpers.hooks import HookClient
from helpers.keys import TEST_API_KEY
from hostile_wire import Exchange, HostileServer, answer, head, raw

from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings
from airflow_provider_sixtyfour.hooks.transport_async import AsyncTransport
from airflow_provider_sixtyfour.hooks.transport_sync import SyncTransport
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourError,
    SixtyfourRedirectError,
    SixtyfourRequestError,
    SixtyfourResponseError,
    SixtyfourTransportError,
    is_final,
    is_transient,
)

KINDS = ["sync", "async"]
LEADS = [{"name": "Ada", "email": "ada@example.com"}]
log = logging.getLogger(__name__)


def raised(action: Callable[[], Any]) -> SixtyfourError:
    with pytest.raises(SixtyfourError) as info:
        action()
    return info.value


# -- item 1: redirects ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed(kind: str, status: int, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    elsewhere = wire_server(answer(200, []))
    location = f"http://user:pw@{elsewhere.base_url.removeprefix('http://')}/steal?X-Signature=abc123"
    api = wire_server(answer(status, b"", {"Location": location}))
    client: HookClient = client_on(kind, api.base_url, max_retries=3)

    err = raised(lambda: client("list_workflows"))

    assert isinstance(err, SixtyfourRedirectError)
    assert err.status_code == status
    message = str(err)
    assert f"GET /workflows failed with HTTP {status}: a redirect to {elsewhere.base_url[7:]}, not followed" in message
    assert "API calls never follow redirects" in message
    assert "abc123" not in message
    assert "user:pw" not in message
    assert "steal" not in message
    assert is_final(err)
    assert not is_transient(err)
    assert len(api.requests) == 1  # not retried
    assert elsewhere.requests == []  # the key went nowhere else


@pytest.mark.parametrize("kind", KINDS)
def test_a_redirected_run_start_sends_the_key_and_rows_nowhere_else(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    elsewhere = wire_server(answer(200, {"status": "queued", "workflow_id": "wf-1", "job_id": "j-1"}))
    api = wire_server(answer(307, b"", {"Location": elsewhere.base_url + "/workflows/run"}))
    client = client_on(kind, api.base_url)

    err = raised(lambda: client("run_workflow", "wf-1", LEADS, idempotency_key="key-1"))

    assert isinstance(err, SixtyfourRedirectError)
    assert elsewhere.requests == []
    assert len(api.requests) == 1
    assert api.requests[0].headers["Idempotency-Key"] == "key-1"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("location", "target"),
    [
        ("/workflows/elsewhere", "a redirect to another path on the same host"),
        (None, "a redirect without a Location"),
        ("http://[::1/x", "a redirect to <unparseable url>"),
    ],
)
def test_a_redirect_names_what_it_can_of_its_target(
    kind: str, location: str | None, target: str, wire_server, client_on
) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(answer(302, b"", {"Location": location} if location else {}))
    err = raised(lambda: client_on(kind, api.base_url)("list_workflows"))
    assert isinstance(err, SixtyfourRedirectError)
    assert f"HTTP 302: {target}, not followed" in str(err)


# -- item 12: raw library exceptions become the provider's ------------------------------------------


def transport_call(kind: str, settings: ConnectionSettings, call: endpoints.ApiCall[Any]) -> Any:
    """Send ``call`` through a transport built on ``settings`` directly (to reach URLs the connection
    form refuses)."""
    if kind == "sync":
        sync = SyncTransport(settings, log)
        try:
            return sync.request(call)
        finally:
            sync.close()

    async def go() -> Any:
        transport = AsyncTransport(settings, log)
        try:
            return await transport.request(call)
        finally:
            await transport.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "base_url",
    ["ftp://127.0.0.1:9", "gopher://127.0.0.1:9", "http://127.0.0.1:99999", "http://[::1", "127.0.0.1:9"],
)
def test_urls_the_client_cannot_send_to_fail_clearly_without_retries(kind: str, base_url: str) -> None:
    settings = ConnectionSettings("sixtyfour_odd", base_url, TEST_API_KEY, timeout=2)
    err = raised(lambda: transport_call(kind, settings, endpoints.list_workflows()))
    assert isinstance(err, SixtyfourRequestError), repr(err)
    assert str(err).startswith("GET /workflows could not be sent: ")
    assert "Check the host of the Sixtyfour connection" in str(err)
    assert is_final(err)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("key", ["key\nInjected: 1", "key\r\nx-api-key: other"])
def test_a_header_the_client_refuses_fails_before_sending(kind: str, key: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(answer(200, {"status": "queued", "workflow_id": "wf-1", "job_id": "j-1"}))
    err = raised(lambda: client_on(kind, api.base_url)("run_workflow", "wf-1", LEADS, idempotency_key=key))
    assert isinstance(err, SixtyfourRequestError), repr(err)
    assert "POST /workflows/run could not be sent" in str(err)
    assert api.requests == []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_does_not_decode_is_a_response_error(kind: str, encoding: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    garbage = b"\x1f\x8b\x08\x00this is not compressed at all" * 10
    api = wire_server(answer(200, garbage, {"Content-Encoding": encoding}))
    err = raised(lambda: client_on(kind, api.base_url)("list_workflows"))
    assert isinstance(err, SixtyfourResponseError), repr(err)
    assert f"its body could not be decoded (Content-Encoding {encoding})" in str(err)
    assert is_transient(err)


NESTED = b"[" * 100_000 + b"]" * 100_000


@pytest.mark.parametrize("kind", KINDS)
def test_json_nested_too_deeply_is_a_response_error(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(answer(200, NESTED))
    err = raised(lambda: client_on(kind, api.base_url)("list_workflows"))
    assert isinstance(err, SixtyfourResponseError)
    assert "HTTP 200 answer nests lists or objects too deeply to read" in str(err)


@pytest.mark.parametrize("kind", KINDS)
def test_an_error_body_nested_too_deeply_still_gives_the_status(kind: str, wire_server, client_on) -> None:  # type: ignore[no-untyped-def]
    api = wire_server(answer(404, b'{"detail": ' + NESTED + b"}", reason="Not Found"))
    err = raised(lambda: client_on(kind, api.base_url)("get_workflow", "wf-x"))
    assert (
        "GET /workflows/wf-x failed with HTTP 404: Not Found (the answer's JSON is nested too deeply to read)"
        in str(err)
    )


def echo_in_status_line(exchange: Exchange) -> None:
    exchange.send(f"HTTP/1.1 2OO {exchange.request.headers.get('x-api-key')}\r\n\r\n".encode())


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    "behaviour",
    [
        raw(b"NOT HTTP AT ALL\r\n\r\n"),
        raw(head(200, {"Content-Length": "100"}) + b"[]"),  # cut short
        raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
        echo_in_status_line,
    ],
    ids=["not-http", "cut-short", "bad-chunk", "key-in-status-line"],
)
def test_garbled_answers_are_transport_errors_and_retried(
    kind: str,
    behaviour: Any,
    wire_server,  # type: ignore[no-untyped-def]
    client_on,  # type: ignore[no-untyped-def]
) -> None:
    api: HostileServer = wire_server(behaviour)
    err = raised(lambda: client_on(kind, api.base_url, max_retries=1)("list_workflows"))
    assert isinstance(err, (SixtyfourTransportError, SixtyfourResponseError)), repr(err)
    assert is_transient(err)
    assert TEST_API_KEY not in str(err)
    if isinstance(err, SixtyfourTransportError):
        assert len(api.requests) == 2


# -- item 14: an id that names another path ---------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("workflow_id", ["..", ".", "a/b", "%2e%2e", "wf?x=1", "wf#top"])
def test_a_workflow_id_that_names_another_path_sends_nothing(  # type: ignore[no-untyped-def]
    kind: str, workflow_id: str, wire_server, client_on
) -> None:
    # get_workflow("..") once asked for GET /workflows/.. , which a server resolves to "/".
    api = wire_server(answer(200, {"id": "wf", "name": "x", "status": "ready"}))
    client: HookClient = client_on(kind, api.base_url)
    for method in ("get_workflow", "run_workflow"):
        err = raised(lambda method=method: client(method, workflow_id))
        assert "is not a Sixtyfour workflow id" in str(err)
        assert is_final(err)
    assert api.requests == []
