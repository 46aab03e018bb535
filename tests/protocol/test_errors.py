"""Mapping HTTP error answers to exceptions: every status, every error shape, messages that help and never leak."""

from __future__ import annotations

import json

import pytest

from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.answers import read_answer
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourApiError,
    SixtyfourAuthError,
    SixtyfourConflictError,
    SixtyfourError,
    SixtyfourForbiddenError,
    SixtyfourInputError,
    SixtyfourInsufficientCreditError,
    SixtyfourNotFoundError,
    SixtyfourRateLimitError,
    SixtyfourRedirectError,
    SixtyfourRequestError,
    SixtyfourResponseError,
    SixtyfourServerError,
    SixtyfourTransportError,
    SixtyfourValidationError,
    error_for_response,
    is_final,
    is_transient,
    read_api_error,
    read_api_message,
)
from airflow_provider_sixtyfour.protocol.redaction import Redactor

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, SixtyfourValidationError),
        (401, SixtyfourAuthError),
        (402, SixtyfourInsufficientCreditError),
        (403, SixtyfourForbiddenError),
        (404, SixtyfourNotFoundError),
        (409, SixtyfourConflictError),
        (422, SixtyfourValidationError),
        (429, SixtyfourRateLimitError),
        (500, SixtyfourServerError),
        (502, SixtyfourServerError),
        (503, SixtyfourServerError),
        (504, SixtyfourServerError),
        (599, SixtyfourServerError),
        (418, SixtyfourApiError),
    ],
)
def test_status_maps_to_class(status: int, cls: type[SixtyfourApiError]) -> None:
    err = error_for_response(status, "GET", "/workflows", json.dumps({"detail": "boom"}).encode())
    assert type(err) is cls
    assert isinstance(err, SixtyfourError)
    assert err.status_code == status
    assert f"HTTP {status}" in str(err)
    assert "GET /workflows" in str(err)
    assert "boom" in str(err)


def test_forbidden_is_an_auth_error() -> None:
    assert issubclass(SixtyfourForbiddenError, SixtyfourAuthError)


def test_error_shape_error_and_message() -> None:
    body = json.dumps({"error": "Unauthorized", "message": "Invalid API key"}).encode()
    err = error_for_response(401, "POST", "/workflows/run", body)
    assert err.api_message == "Unauthorized: Invalid API key"
    assert str(err).startswith("POST /workflows/run failed with HTTP 401: Unauthorized: Invalid API key")
    assert "password field" in str(err)  # the hint says where to fix the key


def test_error_shape_detail_string() -> None:
    err = error_for_response(404, "GET", "/workflows/wf-x", json.dumps({"detail": "Workflow not found"}).encode())
    assert err.api_message == "Workflow not found"
    assert "Check the id" in str(err)


def test_error_shape_validation_list() -> None:
    body = json.dumps(
        {
            "detail": [
                {
                    "loc": ["query", "limit"],
                    "msg": "Input should be less than or equal to 500",
                    "type": "less_than_equal",
                },
                {"loc": ["body", "webhook_payload", 0], "msg": "Field required", "type": "missing"},
            ]
        }
    ).encode()
    err = error_for_response(422, "GET", "/workflows/runs", body)
    assert isinstance(err, SixtyfourValidationError)
    assert err.api_message == (
        "query.limit: Input should be less than or equal to 500; body.webhook_payload.0: Field required"
    )
    assert len(err.details) == 2
    assert err.details[0]["type"] == "less_than_equal"


def test_error_only_error_key() -> None:
    assert read_api_message(500, json.dumps({"error": "Internal"}).encode()) == ("Internal", [])


def test_error_detail_and_message_both_kept() -> None:
    text, _ = read_api_message(400, json.dumps({"detail": "bad", "message": "worse"}).encode())
    assert text == "bad; worse"


def test_error_html_body() -> None:
    err = error_for_response(502, "GET", "/workflows", b"<html><body>Bad gateway</body></html>", reason="Bad Gateway")
    assert isinstance(err, SixtyfourServerError)
    assert "Bad Gateway" in str(err)
    assert "HTML page" in str(err)


def test_error_plain_text_and_empty_bodies() -> None:
    assert "answer not JSON: 'upstream died'" in read_api_message(503, b"upstream died", "Service Unavailable")[0]
    assert read_api_message(503, b"", "Service Unavailable") == ("Service Unavailable", [])
    assert read_api_message(503, b"", "") == ("no message", [])
    assert read_api_message(500, b"[1, 2]", "Server Error") == ("Server Error", [])


def test_rate_limit_error_carries_retry_after() -> None:
    call = endpoints.list_runs(status="active")
    with pytest.raises(SixtyfourRateLimitError) as info:
        read_answer(call, 429, b'{"detail": "Too many requests"}', {"Retry-After": "7"}, "Too Many Requests")
    assert info.value.retry_after == 7.0
    assert "HTTP 429" in str(info.value)


def test_error_path_never_keeps_a_query_string() -> None:
    err = error_for_response(403, "GET", "/results/file.csv?X-Signature=SECRETSIG", b"{}", reason="Forbidden")
    assert "SECRETSIG" not in str(err)
    assert err.path == "/results/file.csv?<redacted>"


def test_transport_error_message() -> None:
    err = SixtyfourTransportError("GET", f"/workflows/runs/{JOB_ID}/live_status", "ConnectionError: refused")
    assert (
        str(err)
        == f"GET /workflows/runs/{JOB_ID}/live_status failed before an answer arrived: ConnectionError: refused"
    )
    assert isinstance(err, SixtyfourError)


def test_read_answer_maps_every_error_with_method_and_path() -> None:
    call = endpoints.get_workflow("wf-missing")
    with pytest.raises(SixtyfourNotFoundError) as info:
        read_answer(call, 404, b'{"detail": "Workflow not found"}', {}, "Not Found")
    assert info.value.method == "GET"
    assert info.value.path == "/workflows/wf-missing"
    assert str(info.value).startswith("GET /workflows/wf-missing failed with HTTP 404: Workflow not found")


@pytest.mark.parametrize(
    ("status", "final"),
    [
        (400, True),
        (401, True),
        (402, False),
        (403, True),
        (404, True),
        (409, False),
        (422, True),
        (429, False),
        (500, False),
        (503, False),
    ],
)
def test_final_errors_are_the_ones_a_retry_cannot_fix(status: int, final: bool) -> None:
    err = error_for_response(status, "GET", "/workflows/wf", b'{"detail": "no"}', reason="")
    assert is_final(err) is final
    assert not (is_final(err) and is_transient(err))


def test_errors_can_declare_themselves_final() -> None:
    class Gone(SixtyfourError):
        final = True

    assert is_final(Gone("gone"))
    assert is_final(SixtyfourInputError("bad"))
    assert not is_final(SixtyfourError("unknown"))
    assert not is_final(ValueError("not ours"))
    assert not is_final(SixtyfourTransportError("GET", "/x", "refused"))


# -- issue 11: the nested error shape, redirects, deep JSON, echoed keys ----------------------------


@pytest.mark.parametrize(
    ("body", "message", "code"),
    [
        (
            {"error": {"code": "invalid_api_key", "message": "Invalid API key"}},
            "invalid_api_key: Invalid API key",
            "invalid_api_key",
        ),
        ({"error": {"message": "Invalid API key"}}, "Invalid API key", None),
        ({"error": {"code": "quota"}}, "quota", "quota"),
        ({"error": {"code": "quota"}, "message": "Top level"}, "quota: Top level", "quota"),
        ({"error": {"code": None, "message": ["not", "text"]}}, "Unauthorized", None),
        ({"error": "Unauthorized", "message": "Invalid API key"}, "Unauthorized: Invalid API key", None),
    ],
)
def test_the_nested_error_shape_gives_message_and_code(body: object, message: str, code: str | None) -> None:
    assert read_api_error(json.dumps(body).encode(), "Unauthorized") == (message, [], code)
    err = error_for_response(401, "GET", "/workflows", json.dumps(body).encode(), reason="Unauthorized")
    assert err.code == code
    assert f"HTTP 401: {message}. Check the API key" in str(err)


def test_an_error_message_is_masked_before_it_is_cut() -> None:
    key = "sk-live-0123456789abcdef"
    text = ("x" * 195 + key).encode()  # not JSON: only its start is quoted, and the key straddles the cut
    message, _, _ = read_api_error(text, "Bad Gateway", Redactor([key]))
    assert "sk-live" not in message
    assert message.endswith("***')")
    long_message, _, _ = read_api_error(json.dumps({"detail": "y" * 10_000}).encode())
    assert len(long_message) < 2100
    assert long_message.endswith("... (10000 characters in all)")


def test_validation_details_echoing_the_key_are_masked() -> None:
    key = "sk-live-0123456789abcdef"
    body = json.dumps({"detail": [{"loc": ["header", "x-api-key"], "msg": f"bad {key}", "input": key}]}).encode()
    err = error_for_response(422, "GET", "/workflows", body, redactor=Redactor([key]))
    assert err.details == [{"loc": ["header", "x-api-key"], "msg": "bad ***", "input": "***"}]
    assert key not in str(err)


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("https://user:pw@evil.example:8443/x?sig=abc", "a redirect to evil.example:8443, not followed"),
        ("//evil.example/x", "a redirect to evil.example, not followed"),
        ("/login?next=/workflows", "a redirect to another path on the same host, not followed"),
        ("   ", "a redirect without a Location, not followed"),
        (None, "a redirect without a Location, not followed"),
    ],
)
def test_a_redirect_names_its_status_and_host_only(location: str | None, says: str) -> None:
    headers = {"location": location} if location is not None else {}
    with pytest.raises(SixtyfourRedirectError) as info:
        read_answer(endpoints.list_workflows(), 302, b"<html>moved</html>", headers, "Found")
    err = info.value
    assert str(err).startswith(f"GET /workflows failed with HTTP 302: {says}. API calls never follow redirects")
    assert "sig=abc" not in str(err)
    assert "user:pw" not in str(err)
    assert is_final(err)
    assert not is_transient(err)


def test_json_nested_too_deeply_is_a_response_error_not_a_recursion_error() -> None:
    deep = b"[" * 50_000 + b"]" * 50_000
    with pytest.raises(SixtyfourResponseError, match="too deeply to read"):
        read_answer(endpoints.list_workflows(), 200, deep, {})
    with pytest.raises(SixtyfourServerError, match=r"HTTP 500: Oops \(the answer's JSON is nested too deeply"):
        read_answer(endpoints.list_workflows(), 500, deep, {}, "Oops")


def test_a_2xx_record_echoing_the_key_is_scrubbed_before_parsing() -> None:
    key = "sk-live-0123456789abcdef"
    body = json.dumps([{"id": "wf-1", "name": f"flow of {key}", "status": "ready", "step": "x"}]).encode()
    (workflow,) = read_answer(endpoints.list_workflows(), 200, body, {}, redactor=Redactor([key]))
    assert workflow.name == "flow of ***"


def test_a_request_error_is_final_and_says_what_to_check() -> None:
    err = SixtyfourRequestError("GET", "/workflows", "InvalidSchema: No connection adapters were found")
    assert str(err).startswith("GET /workflows could not be sent: InvalidSchema: No connection adapters were found.")
    assert is_final(err)
    assert not is_transient(err)
