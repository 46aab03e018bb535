"""Every answer a broken proxy, cache or storage could give, on every route, against the real hooks.

One table of faults (``FAULTS``) times the API's routes times the two hooks (the blocking
``SixtyfourHook`` and the ``SixtyfourAsyncHook`` the triggerer uses). The server (``tests/hostile.py``)
is a correct little API until a test breaks one route. Each row asserts one of three outcomes:

* ``error``: the call raises a ``SixtyfourError`` subclass (never a raw exception) whose message
  names the request and says what was wrong, without the API key or a URL signature;
* ``sane``: either such an error, or a record that is strict JSON and about the run asked for
  (``NaN`` and numbers no record can hold read as missing);
* ``right``: the right record (the data is right, only its label is odd).

No row may hang: each has a pytest timeout.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.connections import HOSTILE_CONN_ID as CONN_ID
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY
from hostile import (
    JOB_ID,
    OTHER_JOB_ID,
    RESULT_CSV,
    STORAGE_ROUTE,
    URL_SIGNATURE,
    WORKFLOW_ID,
    Good,
    HostileServer,
    drip,
    response,
)

from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook, SixtyfourHook
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError
from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable
from airflow_provider_sixtyfour.transfers.landing import DownloadOptions, land_results

HTML = b"<!DOCTYPE html><html><head><title>502</title></head><body><h1>Bad Gateway</h1></body></html>"
API_ROUTES = endpoints.ALL_ROUTES


# --------------------------------------------------------------------------------------------------
# The faults: the good answer in, the raw bytes a broken middlebox sends out
# --------------------------------------------------------------------------------------------------


def _map_values(data: Any, leaf: Callable[[Any], Any]) -> Any:
    if isinstance(data, dict):
        return {k: _map_values(v, leaf) for k, v in data.items()}
    if isinstance(data, list):
        return [_map_values(v, leaf) for v in data]
    return leaf(data)


def _wrong_type(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str):
        return 12345
    if isinstance(value, (int, float)):
        return "twelve"
    return value


def _wrong_types(good: Good) -> bytes:
    data = good.data
    if isinstance(data, dict):
        changed: Any = {
            k: ([1] if isinstance(v, dict) else {"a": 1} if isinstance(v, list) else _wrong_type(v))
            for k, v in data.items()
        }
    else:
        changed = [{k: _wrong_type(v) for k, v in item.items()} for item in data]
    return response(200, json.dumps(changed).encode())


def _numbers(good: Good, text: str) -> bytes:
    marked = _map_values(good.data, lambda v: "@@N@@" if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
    return response(200, json.dumps(marked).replace('"@@N@@"', text).encode())


def _duplicate_key(good: Good) -> bytes:
    first = good.data if isinstance(good.data, dict) else good.data[0]
    key = next(iter(first))
    doubled = "{" + f"{json.dumps(key)}: {json.dumps('a-second-value')}, " + json.dumps(first)[1:]
    if isinstance(good.data, dict):
        return response(200, doubled.encode())
    rest = "".join(", " + json.dumps(item) for item in good.data[1:])
    return response(200, f"[{doubled}{rest}]".encode())


def _shape(good: Good) -> bytes:
    body = [good.data] if isinstance(good.data, dict) else {"items": good.data}
    return response(200, json.dumps(body).encode())


def _missing(good: Good) -> bytes:
    return response(200, b"{}" if isinstance(good.data, dict) else b"[{}]")


def _interim_only(good: Good) -> bytes:
    return b"HTTP/1.1 102 Processing\r\n\r\n"


def _redirect(good: Good) -> bytes:
    return response(302, b"", Location="/moved-elsewhere?token=abc")


FAULTS: dict[str, Callable[[Good], bytes | None]] = {
    "html-page": lambda g: response(200, HTML, "text/html"),
    "html-labelled-json": lambda g: response(200, HTML),
    "empty-body": lambda g: response(200, b""),
    "truncated-json": lambda g: response(200, g.body[: len(g.body) // 2]),
    "wrong-shape": _shape,
    "wrong-types": _wrong_types,
    "missing-fields": _missing,
    "duplicate-keys": _duplicate_key,
    "non-utf8": lambda g: response(200, g.body.replace(b'"', b'"\xff\xfe', 1)),
    "nan-infinity": lambda g: _numbers(g, "NaN"),
    "huge-numbers": lambda g: _numbers(g, "1e400"),
    "huge-integers": lambda g: _numbers(g, "9" * 5000),
    "deep-nesting": lambda g: response(200, b"[" * 100_000 + b"]" * 100_000),
    "another-run": lambda g: response(200, g.body.replace(JOB_ID.encode(), OTHER_JOB_ID.encode())),
    "interim-1xx-only": _interim_only,
    "no-content-204": lambda g: response(204),
    "not-modified-304": lambda g: response(304),
    "body-longer-than-content-length": lambda g: response(200, g.body + b"    ", Content_Length=str(len(g.body) - 3)),
    "body-shorter-than-content-length": lambda g: response(200, g.body, Content_Length=str(len(g.body) + 64)),
    "closed-without-answer": lambda g: None,
    "right-json-labelled-html": lambda g: response(200, g.body, "text/html; charset=utf-8"),
    "redirect-302": _redirect,
    "rate-limit-told-to-wait-a-day": lambda g: response(429, b'{"detail": "slow down"}', Retry_After="100000"),
    "dripped-a-byte-at-a-time": drip,
    "answer-over-32-mib": lambda g: response(200, b"[" + b" " * (33 << 20) + b"]"),
}


@dataclass(frozen=True)
class Row:
    """What a fault must give on a route: ``error``, ``sane`` or ``right`` (see the module docstring)."""

    expect: str = "error"
    timeout: float = 60.0
    #: the connection's ``timeout`` for this row, where the fixture's 3 s would only make it slower
    answer_within: float | None = None


def _row(fault: str, route: str) -> Row | None:
    """The expectation for ``fault`` on ``route``; None where the fault means nothing there."""
    about_one_run = route in (endpoints.LIVE_STATUS, endpoints.CANCEL_RUN)
    if fault == "another-run":
        # Only these answers name the run asked for; elsewhere another id is not a contradiction.
        return Row("error") if about_one_run else None
    if fault in ("nan-infinity", "huge-numbers", "huge-integers"):
        return Row("sane")
    if fault == "right-json-labelled-html":
        return Row("right")
    if fault == "redirect-302":
        return Row("error")  # API calls never follow redirects
    if fault == "rate-limit-told-to-wait-a-day":
        return Row("error", timeout=8)  # a told wait over max_wait fails at once
    if fault == "dripped-a-byte-at-a-time":
        return Row("error", timeout=8, answer_within=1.0)  # an answer arrives whole within the timeout
    if fault == "answer-over-32-mib":
        return Row("error")  # API answers are capped
    return Row("error")


def _params() -> Iterator[Any]:
    for fault in FAULTS:
        for route in API_ROUTES:
            row = _row(fault, route)
            if row is None:
                continue
            marks = [pytest.mark.timeout(row.timeout)]
            yield pytest.param(fault, route, row, marks=marks, id=f"{fault}-{route}")


# --------------------------------------------------------------------------------------------------
# Driving the real hooks
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def hostile(hostile_api: HostileServer) -> HostileServer:
    return hostile_api


def _csv(tmp: Path) -> Path:
    path = tmp / "leads.csv"
    path.write_bytes(b"email\nada@example.com\n")
    return path


def _calls(hook: Any, tmp: Path) -> dict[str, Callable[[], Any]]:
    """One call per route; the same for both hooks (the async hook's return coroutines)."""
    return {
        endpoints.RUN_WORKFLOW: lambda: hook.run_workflow(WORKFLOW_ID, [{"email": "a@b.c"}], idempotency_key="k1"),
        endpoints.LIST_RUNS: lambda: hook.list_runs(),
        endpoints.LIVE_STATUS: lambda: hook.get_live_status(JOB_ID),
        endpoints.CANCEL_RUN: lambda: hook.cancel_run(JOB_ID),
        endpoints.DOWNLOAD_LINKS: lambda: hook.get_download_links(JOB_ID),
        endpoints.UPLOAD_CSV: lambda: hook.upload_csv(_csv(tmp)),
        endpoints.LIST_WORKFLOWS: lambda: hook.list_workflows(),
        endpoints.GET_WORKFLOW: lambda: hook.get_workflow(WORKFLOW_ID),
    }


def _sync_call(route: str, tmp: Path) -> Any:
    with SixtyfourHook(sixtyfour_conn_id=CONN_ID) as hook:
        return _calls(hook, tmp)[route]()


async def _async_call(route: str, tmp: Path) -> Any:
    async with SixtyfourAsyncHook(sixtyfour_conn_id=CONN_ID) as hook:
        return await _calls(hook, tmp)[route]()


def _call(kind: str, route: str, tmp: Path) -> Any:
    if kind == "sync":
        return _sync_call(route, tmp)
    return asyncio.run(_async_call(route, tmp))


def _outcome(kind: str, route: str, tmp: Path) -> Any:
    """The call's result, or the ``SixtyfourError`` it raised (any other exception fails the test)."""
    try:
        return _call(kind, route, tmp)
    except SixtyfourError as err:
        return err


def _assert_about_the_right_run(route: str, result: Any) -> None:
    records = result if isinstance(result, list) else [result]
    for record in records:
        if route in (endpoints.LIVE_STATUS, endpoints.CANCEL_RUN):
            assert record.job_id.lower() == JOB_ID, record
        if route == endpoints.GET_WORKFLOW:
            assert record.id == WORKFLOW_ID


def _assert_clear(err: SixtyfourError, route: str) -> None:
    text = str(err)
    assert TEST_API_KEY not in text
    assert URL_SIGNATURE.split("=")[1] not in text
    assert len(text) > 30
    method = "POST" if route in (endpoints.RUN_WORKFLOW, endpoints.CANCEL_RUN, endpoints.UPLOAD_CSV) else "GET"
    assert text.startswith(f"{method} /"), text  # names the request


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize(("fault", "route", "row"), list(_params()))
def test_a_hostile_answer_is_a_clear_sixtyfour_error_or_the_right_record(
    hostile: HostileServer,
    tmp_path: Path,
    kind: str,
    fault: str,
    route: str,
    row: Row,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if row.answer_within is not None:
        uri = sixtyfour_connection_uri_json(hostile.url, max_retries=1, backoff_base=0.01, timeout=row.answer_within)
        monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", uri)
    hostile.break_route(route, FAULTS[fault])
    outcome = _outcome(kind, route, tmp_path)
    assert hostile.seen("?") == 0, "a request went to a path no API call names"
    if isinstance(outcome, SixtyfourError):
        assert row.expect != "right", f"the right data was refused: {outcome}"
        _assert_clear(outcome, route)
        return
    result = outcome
    assert row.expect != "error", f"{fault} on {route} was taken for an answer: {result!r}"
    json.dumps(to_jsonable(result), allow_nan=False)
    _assert_about_the_right_run(route, result)
    for value in _leaves(to_jsonable(result)):
        assert not (isinstance(value, int) and abs(value) >= 2**63), value
        assert not (isinstance(value, float) and not math.isfinite(value)), value


def _leaves(data: Any) -> Iterator[Any]:
    if isinstance(data, dict):
        for value in data.values():
            yield from _leaves(value)
    elif isinstance(data, list):
        for value in data:
            yield from _leaves(value)
    else:
        yield data


@pytest.mark.parametrize("kind", ["sync", "async"])
@pytest.mark.parametrize("route", API_ROUTES)
def test_the_server_answers_right_when_nothing_is_broken(
    hostile: HostileServer, tmp_path: Path, kind: str, route: str
) -> None:
    """The control row: the table above can fail only because of its faults."""
    result = _call(kind, route, tmp_path)
    json.dumps(to_jsonable(result), allow_nan=False)
    _assert_about_the_right_run(route, result)
    assert hostile.seen(route) == 1


# --------------------------------------------------------------------------------------------------
# The storage behind the signed download URLs
# --------------------------------------------------------------------------------------------------

STORAGE_FAULTS: dict[str, Row] = {
    "html-page": Row(),
    "empty-body": Row(),
    "truncated-json": Row(),
    "body-longer-than-content-length": Row(),
    "body-shorter-than-content-length": Row(),
    "closed-without-answer": Row(),
    "no-content-204": Row(),
    "not-modified-304": Row(),
    "interim-1xx-only": Row(),
    # Storage redirects are followed one hop at a time, without the environment's credentials
    # (tests/transfers/test_hostile_storage.py checks the hop); here the hop leads nowhere.
    "redirect-302": Row(),
    # The throughput floor (measured over a short window here) fails the slow body.
    "dripped-a-byte-at-a-time": Row(timeout=15),
}


def _storage_params() -> Iterator[Any]:
    for fault, row in STORAGE_FAULTS.items():
        marks = [pytest.mark.timeout(row.timeout)]
        yield pytest.param(fault, marks=marks, id=fault)


@pytest.mark.parametrize("fault", list(_storage_params()))
def test_a_hostile_storage_never_lands_wrong_bytes(hostile: HostileServer, tmp_path: Path, fault: str) -> None:
    hostile.break_route(STORAGE_ROUTE, FAULTS[fault])
    landing = tmp_path / "landing"
    floor = {"min_throughput": 1024, "throughput_window": 2} if fault == "dripped-a-byte-at-a-time" else {}
    options = DownloadOptions(max_attempts=2, retry_wait=0.01, connect_timeout=3, read_timeout=3, **floor)
    with SixtyfourHook(sixtyfour_conn_id=CONN_ID) as hook, pytest.raises(SixtyfourError) as raised:
        land_results(hook, JOB_ID, landing.as_uri() + "/", options=options)
    assert URL_SIGNATURE.split("=")[1] not in str(raised.value)
    assert TEST_API_KEY not in str(raised.value)
    assert not landing.exists() or not any(landing.rglob("*")), sorted(landing.rglob("*"))
    assert hostile.seen(STORAGE_ROUTE) >= 1
    followed = 2 if fault == "redirect-302" else 0  # one hop on each of the two attempts
    assert hostile.seen("?") <= followed, "a storage redirect was followed too far"


def test_a_healthy_storage_lands_the_file(hostile: HostileServer, tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    with SixtyfourHook(sixtyfour_conn_id=CONN_ID) as hook:
        landed = land_results(hook, JOB_ID, landing.as_uri() + "/")
    assert len(landed) == 1
    assert (landing / "block_01_webhook.csv").read_bytes() == RESULT_CSV
