"""The emulator routes on the vendor's OpenAPI document, and every route the client calls is in it."""

from __future__ import annotations

import io

import pytest
from aiohttp import web

from airflow_provider_sixtyfour.emulator import DEFAULT_WORKFLOWS, FaultRule
from airflow_provider_sixtyfour.emulator.app import build_app
from airflow_provider_sixtyfour.emulator.core import EmulatorCore
from airflow_provider_sixtyfour.emulator.openapi import load_document
from airflow_provider_sixtyfour.emulator.routes import API_ROUTES, UPLOAD_CSV, ApiRoute, documented_operations
from airflow_provider_sixtyfour.protocol import endpoints

JOB = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"

#: One call of every request builder of ``protocol.endpoints``: together, every route the client calls.
CLIENT_CALLS = (
    endpoints.run_workflow("wf-a", idempotency_key="k"),
    endpoints.list_runs(),
    endpoints.get_live_status(JOB),
    endpoints.cancel_run(JOB),
    endpoints.get_download_links(JOB),
    endpoints.upload_csv("leads.csv", io.BytesIO(b"a\n1\n")),
    endpoints.list_workflows(),
    endpoints.get_workflow("wf-a"),
)


def _document_routes() -> set[tuple[str, str]]:
    return {(route.method, route.path) for route in documented_operations(load_document()).values()}


def test_the_client_builds_a_call_on_every_route_it_declares() -> None:
    assert {call.route for call in CLIENT_CALLS} == set(endpoints.ALL_ROUTES)


@pytest.mark.parametrize("call", CLIENT_CALLS, ids=lambda call: f"{call.method} {call.route}")
def test_every_route_and_method_the_client_calls_is_in_the_document(call: endpoints.ApiCall[object]) -> None:
    if call.route == UPLOAD_CSV.path:
        pytest.skip("the CSV upload is not in the OpenAPI document (declared undocumented by the emulator)")
    assert (call.method, call.route) in _document_routes()


def test_the_only_route_missing_from_the_document_is_the_csv_upload() -> None:
    missing = {(call.method, call.route) for call in CLIENT_CALLS} - _document_routes()
    assert missing == {(UPLOAD_CSV.method, UPLOAD_CSV.path)}
    assert not UPLOAD_CSV.documented


def test_the_emulator_serves_every_documented_operation_and_declares_only_the_upload_itself() -> None:
    documented = {(r.method, r.path) for r in API_ROUTES if r.documented}
    assert documented == _document_routes()
    assert [r for r in API_ROUTES if not r.documented] == [UPLOAD_CSV]


def test_the_app_registers_exactly_the_api_routes() -> None:
    app = build_app(EmulatorCore(["k"], DEFAULT_WORKFLOWS))
    registered = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and isinstance(route.resource, web.Resource)
    }
    api = {(r.method, r.path) for r in API_ROUTES}
    assert api <= registered
    assert not {(m, p) for m, p in registered if not p.startswith(("/_", "/{tail"))} - api


def test_documented_operations_reads_methods_and_paths_by_operation_id() -> None:
    document = {
        "paths": {
            "/a/{x}": {"get": {"operationId": "get_a"}, "post": {"operationId": "post_a"}, "parameters": []},
            "/b": {"delete": {"summary": "no id"}},
        }
    }
    assert documented_operations(document) == {"get_a": ApiRoute("GET", "/a/{x}"), "post_a": ApiRoute("POST", "/a/{x}")}


def test_fault_rules_name_the_documented_routes() -> None:
    assert FaultRule(route="/workflows/runs/{run_id}/live_status", kind="status", status=503).route
    with pytest.raises(ValueError, match="not a route template"):
        FaultRule(route="/workflows/runs/{job_id}/live_status", kind="status", status=503)
