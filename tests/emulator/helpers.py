"""Helpers for the emulator's own tests: test workflows and a thin real-HTTP client (``requests``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, TypeVar

import requests
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import WorkflowSpec
from airflow_provider_sixtyfour.protocol.answers import read_answer
from airflow_provider_sixtyfour.protocol.endpoints import ApiCall

T = TypeVar("T")

FAST = "wf-test-fast"
SLOW = "wf-test-slow"
FAILING = "wf-test-failing"
CSV_FLOW = "wf-test-csv"

TEST_WORKFLOWS = (
    WorkflowSpec(workflow_id=FAST, duration_seconds=0.6, queue_seconds=0.1),
    WorkflowSpec(workflow_id=SLOW, duration_seconds=600, queue_seconds=0.05),
    WorkflowSpec(
        workflow_id=FAILING,
        duration_seconds=0.6,
        queue_seconds=0.05,
        outcome="failed",
        fail_block=2,
        error_message="Lead provider timed out",
    ),
    WorkflowSpec(
        workflow_id=CSV_FLOW,
        first_block="read_csv",
        blocks=("read_csv", "enrich_company", "find_email"),
        duration_seconds=0.5,
        queue_seconds=0.05,
    ),
)


@dataclass
class Api:
    """Real HTTP to one emulator with one API key."""

    base_url: str
    api_key: str | None = TEST_API_KEY
    session: requests.Session = field(default_factory=requests.Session)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"x-api-key": self.api_key} if self.api_key else {}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.base_url + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.base_url + path, headers=self.headers(kwargs.pop("headers", None)), **kwargs)

    def start(
        self,
        workflow_id: str = FAST,
        payload: Any = None,
        *,
        save_json: bool = False,
        specs_override: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> requests.Response:
        body: dict[str, Any] = {}
        if payload is not None:
            body["webhook_payload"] = payload
        if specs_override is not None:
            body["specs_override"] = specs_override
        params = {"workflow_id": workflow_id}
        if save_json:
            params["save_json"] = "true"
        headers = {"Idempotency-Key": key} if key else None
        return self.post("/workflows/run", params=params, json=body or None, headers=headers)

    def start_ok(self, workflow_id: str = FAST, payload: Any = None, **kwargs: Any) -> str:
        answer = self.start(workflow_id, payload, **kwargs)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["job_id"])

    def live(self, job_id: str) -> dict[str, Any]:
        answer = self.get(f"/workflows/runs/{job_id}/live_status")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def wait_terminal(self, job_id: str, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            live = self.live(job_id)
            if live["overall_status"] in ("completed", "failed", "cancelled", "canceled"):
                return live
            if time.monotonic() > deadline:
                raise AssertionError(f"run {job_id} still {live['overall_status']} after {timeout}s")
            time.sleep(0.05)

    def links(self, job_id: str, fmt: str = "csv") -> list[dict[str, Any]]:
        answer = self.get(f"/workflows/runs/{job_id}/results/download-links", params={"format": fmt})
        assert answer.status_code == 200, answer.text
        return list(answer.json())


def send(api: Api, call: ApiCall[T]) -> T:
    """Send a protocol ``ApiCall`` over real HTTP and read the answer with the protocol (as the hooks do)."""
    files = None
    if call.upload is not None:
        upload = call.upload
        files = {upload.field_name: (upload.filename, upload.content, upload.content_type)}
    answer = api.session.request(
        call.method,
        api.base_url + call.path,
        params=dict(call.params),
        json=call.json_body,
        files=files,
        headers=api.headers(dict(call.headers)),
        timeout=30,
    )
    return read_answer(call, answer.status_code, answer.content, answer.headers, answer.reason)
