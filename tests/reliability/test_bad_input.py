"""Bad input, refused requests and unreadable answers: the exact message a user sees, and no paid call.

One table. Each row runs an operator the way a task would (``execute`` with a task context; every
request is real HTTP to the emulator, or to a small gateway standing in for a proxy) and asserts:

* the exception class and its **whole message**, as the task log shows it;
* that nothing was paid for: the emulator started no run during the row (``runs_started`` unchanged),
  and the run route (``POST /workflows/run``) saw exactly the requests the row allows: none where the
  input was wrong (the provider must catch it first), one where only the API can refuse (401 from a
  wrong key never gets that far; 402, 403, 409 and 422 are refusals of that one request);
* for downloads, that no result file was fetched and nothing was written.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from dags.support import ROWS, FakeTaskInstance, FakeTaskStateStore, task_context
from helpers.connections import sixtyfour_connection_uri_json
from helpers.net import free_port

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
from airflow_provider_sixtyfour.operators.sixtyfour import (
    SixtyfourCancelRunOperator,
    SixtyfourDownloadResultsOperator,
    SixtyfourRunWorkflowOperator,
)
from airflow_provider_sixtyfour.protocol.endpoints import GET_WORKFLOW, RUN_WORKFLOW
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourAuthError,
    SixtyfourConflictError,
    SixtyfourForbiddenError,
    SixtyfourInputError,
    SixtyfourInsufficientCreditError,
    SixtyfourResponseError,
    SixtyfourServerError,
    SixtyfourValidationError,
)
from airflow_provider_sixtyfour.sensors.sixtyfour import SixtyfourWorkflowRunSensor
from airflow_provider_sixtyfour.transfers import DownloadOptions
from airflow_provider_sixtyfour.transfers.errors import SixtyfourDestinationMissingError, SixtyfourTargetExistsError

WEBHOOK = "wf-bad-webhook"
CSV = "wf-bad-csv"
HTML_PAGE = b"<!DOCTYPE html><html><body><h1>Welcome to nginx!</h1></body></html>"
CONFIGURE_CONNECTION = (
    """Create it in the UI (Admin > Connections, connection type 'Sixtyfour', the API key in the 'API key' """
    """field) or set the environment variable AIRFLOW_CONN_SIXTYFOUR_MISSING='{"conn_type": "sixtyfour", """
    """"password": "<your Sixtyfour API key>"}'"""
)
NOT_A_UUID = (
    "job_id 'not-a-uuid' is not a Sixtyfour run id: run ids are UUIDs such as "
    "'3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31' (the run operator pushes it to XCom as 'job_id')"
)


def _context(ti: FakeTaskInstance, store: FakeTaskStateStore | None = None) -> Any:
    """The task context a task instance runs with (the runtime's ``Context``, as a plain mapping)."""
    return task_context(ti, store)


# --------------------------------------------------------------------------------------------------
# A gateway that answers in place of the API: an HTML page, or JSON without the required fields
# --------------------------------------------------------------------------------------------------


class Gateway:
    """A tiny HTTP server on 127.0.0.1 that answers every request with one canned answer, and counts them."""

    def __init__(self) -> None:
        self.answer: tuple[str, bytes] = ("text/html", HTML_PAGE)
        self.paths: list[str] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                gateway.paths.append(self.path.split("?")[0])
                content_type, body = gateway.answer
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


# --------------------------------------------------------------------------------------------------
# The world a row runs in
# --------------------------------------------------------------------------------------------------


@dataclass
class World:
    """The emulator, the connections pointing at it, a folder, the gateway, and a completed run."""

    emulator: EmulatorServer
    tmp: Path
    gateway: Gateway
    request: pytest.FixtureRequest
    job_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def run_op(self, ti: FakeTaskInstance | None = None, **kwargs: Any) -> Any:
        params: dict[str, Any] = {"task_id": "enrich", "workflow_id": WEBHOOK, "webhook_payload": ROWS}
        params.update(kwargs)
        params.setdefault("poll_interval", 0.1)
        return SixtyfourRunWorkflowOperator(**params).execute(_context(ti or FakeTaskInstance()))

    def download_op(self, **kwargs: Any) -> Any:
        params: dict[str, Any] = {"task_id": "land", "job_id": self.job_id, "destination": self.destination}
        params.update(kwargs)
        return SixtyfourDownloadResultsOperator(**params).execute(_context(FakeTaskInstance(task_id="land")))

    @property
    def destination(self) -> str:
        return (self.tmp / "landing").as_uri() + "/"

    def completed_run(self) -> None:
        """A run that completed (paid for by the setup, not by the row)."""
        self.job_id = self.run_op()["job_id"]

    def csv(self, name: str, content: bytes | None) -> str:
        path = self.tmp / name
        if content is not None:
            path.write_bytes(content)
        return path.as_uri()

    def counts(self) -> dict[str, int]:
        stats = self.emulator.stats()
        return {
            "runs_started": stats["runs_started"],
            "run_requests": self.emulator.request_count(RUN_WORKFLOW),
            "api_requests": stats["requests_total"],
            "downloads": stats["downloads_started"],
            "gateway_run_requests": self.gateway.paths.count(RUN_WORKFLOW),
        }


@pytest.fixture
def world(
    emulator: EmulatorServer, sixtyfour_conn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: Any
) -> Iterator[World]:
    emulator.add_workflow(WorkflowSpec(workflow_id=WEBHOOK, first_block="webhook", duration_seconds=0.3))
    emulator.add_workflow(WorkflowSpec(workflow_id=CSV, first_block="read_csv", duration_seconds=0.3))
    gateway = Gateway()
    base = emulator.base_url
    connections = {
        "SIXTYFOUR_NOKEY": json.dumps({"conn_type": "sixtyfour", "host": base, "password": ""}),
        "SIXTYFOUR_WRONG": sixtyfour_connection_uri_json(base, api_key="sk-not-the-right-key-4242424242"),
        "SIXTYFOUR_GATEWAY": sixtyfour_connection_uri_json(gateway.url),
    }
    for conn_id, value in connections.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id}", value)
    try:
        yield World(emulator, tmp_path, gateway, request)
    finally:
        gateway.stop()


# --------------------------------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One row: what the user does, and exactly what they see.

    :param act: does the bad thing (with ``World``).
    :param error: the exception class the task fails with; ``AirflowFailException`` for what a retry
        cannot fix (Airflow then fails the task without its retries).
    :param cause: for an ``AirflowFailException``, the Sixtyfour error it carries (its ``__cause__``).
    :param message: its whole message; ``{tmp}`` and ``{job_id}`` are filled in.
    :param setup: runs before the counts are taken (e.g. a completed run to download from).
    :param run_requests: requests the row may send to ``POST /workflows/run`` (refused by the API).
    :param no_request: not a single API request may be sent (the problem is visible before any).
    """

    act: Callable[[World], object]
    error: type[BaseException]
    message: str
    setup: Callable[[World], None] | None = None
    run_requests: int = 0
    no_request: bool = False
    cause: type[BaseException] | None = None


def _fault(rule: FaultRule) -> Callable[[World], None]:
    def setup(w: World) -> None:
        w.emulator.add_fault(rule)

    return setup


def _existing_target(w: World) -> None:
    w.completed_run()
    landing = w.tmp / "landing"
    landing.mkdir()
    (landing / "block_01_webhook.csv").write_text("kept,as,it,was\n")


def _gateway_json(body: dict[str, Any]) -> Callable[[World], None]:
    def setup(w: World) -> None:
        w.gateway.answer = ("application/json", json.dumps(body).encode())

    return setup


def _missing_bucket(w: World) -> None:
    w.completed_run()
    moto = w.request.getfixturevalue("moto_s3")
    w.values["aws_conn_id"] = moto.conn_id


def _try_one_completed(w: World) -> None:
    w.run_op(ti=FakeTaskInstance(try_number=1))


CASES: dict[str, Case] = {
    # ---- the connection and the key -----------------------------------------------------------
    "missing-connection": Case(
        act=lambda w: w.run_op(sixtyfour_conn_id="sixtyfour_missing"),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: Airflow has no connection 'sixtyfour_missing'. "
            + CONFIGURE_CONNECTION
        ),
        no_request=True,
    ),
    "empty-api-key": Case(
        act=lambda w: w.run_op(sixtyfour_conn_id="sixtyfour_nokey"),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: Sixtyfour connection 'sixtyfour_nokey' has no API key: put the key "
            "in its password field (labelled 'API key' in the connection form)"
        ),
        no_request=True,
    ),
    "wrong-api-key-401": Case(
        act=lambda w: w.run_op(sixtyfour_conn_id="sixtyfour_wrong"),
        error=AirflowFailException,
        cause=SixtyfourAuthError,
        message=(
            f"GET /workflows/{WEBHOOK} failed with HTTP 401: Unauthorized: Invalid API key. Check the API key in "
            "the password field of the Sixtyfour connection (or in the AIRFLOW_CONN_<CONN_ID> environment "
            "variable that defines it)"
        ),
    ),
    "feature-not-enabled-403": Case(
        act=lambda w: w.run_op(workflow_id="wf-demo-no-json", save_json=True),
        error=AirflowFailException,
        cause=SixtyfourForbiddenError,
        message=(
            "POST /workflows/run failed with HTTP 403: Saving results as JSON (save_json) is not enabled for your "
            "organization. The key is valid but its organisation may not use this feature; ask Sixtyfour to "
            "enable it"
        ),
        run_requests=1,
    ),
    "unknown-workflow-404": Case(
        act=lambda w: w.run_op(workflow_id="wf-does-not-exist"),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: workflow_id 'wf-does-not-exist' was not found: check the id in "
            "the Sixtyfour app, and that the connection's API key belongs to the organisation that owns it "
            "(GET /workflows/wf-does-not-exist failed with HTTP 404: Workflow not found. Check the id, and that "
            "the API key belongs to the organisation that owns it)"
        ),
    ),
    # ---- run ids --------------------------------------------------------------------------------
    "non-uuid-job-id-cancel": Case(
        act=lambda w: SixtyfourCancelRunOperator(task_id="cancel", job_id="not-a-uuid").execute(
            _context(FakeTaskInstance(task_id="cancel"))
        ),
        error=AirflowFailException,
        message="Invalid input: " + NOT_A_UUID,
        no_request=True,
    ),
    "non-uuid-job-id-download": Case(
        act=lambda w: w.download_op(job_id="not-a-uuid"),
        error=AirflowFailException,
        cause=SixtyfourInputError,
        message=NOT_A_UUID,
        no_request=True,
    ),
    "non-uuid-job-id-sensor": Case(
        act=lambda w: SixtyfourWorkflowRunSensor(task_id="wait", job_id="not-a-uuid").execute(
            _context(FakeTaskInstance(task_id="wait"))
        ),
        error=AirflowFailException,
        cause=SixtyfourInputError,
        message=NOT_A_UUID,
        no_request=True,
    ),
    "far-future-timeout-sensor": Case(
        act=lambda w: SixtyfourWorkflowRunSensor(
            task_id="wait", job_id="3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31", deferrable=True, timeout=1e12
        ).execute(_context(FakeTaskInstance(task_id="wait"))),
        error=AirflowFailException,
        cause=SixtyfourInputError,
        message="timeout must be at most 31622400 seconds (366 days), got 1000000000000.0",
        no_request=True,
    ),
    "workflow-id-that-names-another-path": Case(
        act=lambda w: w.run_op(workflow_id=".."),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: workflow_id '..' is not a Sixtyfour workflow id: ids are letters "
            "and digits, then also '-', '_', '.', ':' or '~' (at most 200 characters), never '/', '%', '?', '#', "
            "whitespace or '..'; copy the id from the workflow's page in the Sixtyfour app"
        ),
        no_request=True,
    ),
    # ---- what only the API can refuse -----------------------------------------------------------
    "conflict-409-retry-with-changed-input": Case(
        # Try 1 ran with ROWS; the DAG was then edited and the task cleared: try 2 replays try 1's key.
        setup=_try_one_completed,
        act=lambda w: w.run_op(ti=FakeTaskInstance(try_number=2), webhook_payload=[{"email": "new@example.com"}]),
        error=SixtyfourConflictError,
        message=(
            "POST /workflows/run failed with HTTP 409: Idempotency-Key was already used for a different request; "
            "use a new key for a new run. Try 2 replayed the start request of try 1 (its Idempotency-Key) to "
            "reattach to the run that try started, but the request differs from that try's (workflow_id, "
            "webhook_payload, specs_override, save_json, or the upload handle of input_csv). Restore the input to "
            "reattach, or pass reattach=False to start a new run"
        ),
        run_requests=1,
    ),
    "validation-422-with-details": Case(
        setup=_fault(
            FaultRule(
                route=RUN_WORKFLOW,
                kind="status",
                status=422,
                detail="webhook_payload.0.email: value is not a valid email address",
                count=1,
            )
        ),
        act=lambda w: w.run_op(),
        error=AirflowFailException,
        cause=SixtyfourValidationError,
        message="POST /workflows/run failed with HTTP 422: body: webhook_payload.0.email: value is not a valid "
        "email address",
        run_requests=1,
    ),
    "insufficient-credits-402": Case(
        act=lambda w: w.run_op(workflow_id="wf-demo-expensive"),
        error=SixtyfourInsufficientCreditError,
        message=(
            "POST /workflows/run failed with HTTP 402: Insufficient credit balance: this run needs 1e+12 credits, "
            "the organization has 1e+06. Top up the organisation's Sixtyfour credits, then clear the task"
        ),
        run_requests=1,
    ),
    # ---- the payload ------------------------------------------------------------------------------
    "payload-not-json-serialisable": Case(
        act=lambda w: w.run_op(webhook_payload=[{"email": "ada@example.com", "seen": object()}]),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: webhook_payload is not JSON-serialisable (Object of type object "
            "is not JSON serializable): convert dates, decimals and other objects to strings or numbers first"
        ),
        no_request=True,
    ),
    "payload-not-a-dict": Case(
        act=lambda w: w.run_op(webhook_payload=42),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: webhook_payload must be a dict or a list of dicts (one per row), "
            "got int"
        ),
        no_request=True,
    ),
    "payload-row-not-a-dict": Case(
        act=lambda w: w.run_op(webhook_payload=[{"email": "ada@example.com"}, "grace@example.com"]),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: webhook_payload row 1 is a str, not a dict: each row must be a "
            "dict of column name to value"
        ),
        no_request=True,
    ),
    "payload-for-a-csv-workflow": Case(
        act=lambda w: w.run_op(workflow_id=CSV),
        error=AirflowFailException,
        message=(
            f"Invalid input for the Sixtyfour run: webhook_payload was given, but workflow '{CSV}' starts with a "
            "'read_csv' block, not a webhook: remove webhook_payload and pass input_csv instead"
        ),
    ),
    # ---- the input CSV ----------------------------------------------------------------------------
    "input-csv-missing": Case(
        act=lambda w: w.run_op(workflow_id=CSV, webhook_payload=None, input_csv=w.csv("leads.csv", None)),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: input_csv 'file://{tmp}/leads.csv' does not exist (or is not a "
            "file); check the path and input_csv_conn_id"
        ),
    ),
    "input-csv-is-a-folder": Case(
        act=lambda w: w.run_op(workflow_id=CSV, webhook_payload=None, input_csv=w.tmp.as_uri()),
        error=AirflowFailException,
        message=(
            "Invalid input for the Sixtyfour run: input_csv 'file://{tmp}' does not exist (or is not a file); "
            "check the path and input_csv_conn_id"
        ),
    ),
    "input-csv-empty": Case(
        act=lambda w: w.run_op(workflow_id=CSV, webhook_payload=None, input_csv=w.csv("empty.csv", b"")),
        error=AirflowFailException,
        message="Invalid input for the Sixtyfour run: input_csv 'file://{tmp}/empty.csv' is empty: there are no "
        "rows to enrich",
    ),
    "input-csv-binary": Case(
        # Only the (free) upload can tell; no run is started with it.
        act=lambda w: w.run_op(
            workflow_id=CSV, webhook_payload=None, input_csv=w.csv("leads.csv", b"\x00\x01PK\x03\x04" * 64)
        ),
        error=AirflowFailException,
        cause=SixtyfourValidationError,
        message="POST /storage/csv/upload failed with HTTP 400: The uploaded file is not a UTF-8 CSV (it looks binary)",
    ),
    # ---- where results land -----------------------------------------------------------------------
    "destination-bucket-missing": Case(
        setup=_missing_bucket,
        act=lambda w: w.download_op(
            destination="s3://no-such-bucket/sixtyfour/", destination_conn_id=w.values["aws_conn_id"]
        ),
        error=AirflowFailException,
        cause=SixtyfourDestinationMissingError,
        message=(
            "the destination bucket 'no-such-bucket' does not exist, or connection 'aws_moto' cannot see it (s3): "
            "create the bucket or fix destination/destination_conn_id"
        ),
    ),
    "destination-exists-without-overwrite": Case(
        setup=_existing_target,
        act=lambda w: w.download_op(),
        error=AirflowFailException,
        cause=SixtyfourTargetExistsError,
        message=(
            "file://{tmp}/landing/block_01_webhook.csv already exists; pass overwrite=True to replace it, or "
            "choose another destination"
        ),
    ),
    "format-the-run-did-not-save": Case(
        setup=lambda w: w.completed_run(),
        act=lambda w: w.download_op(format="json"),
        error=AirflowFailException,
        cause=SixtyfourValidationError,
        message=(
            "GET /workflows/runs/{job_id}/results/download-links failed with HTTP 400: JSON results are not "
            "available for this run: start the run with save_json=true to get them. format='json' needs a run "
            "started with save_json=True (SixtyfourRunWorkflowOperator(save_json=True)); download format='csv' "
            "instead"
        ),
    ),
    "ndjson-the-run-did-not-save": Case(
        setup=lambda w: w.completed_run(),
        act=lambda w: w.download_op(format="ndjson"),
        error=AirflowFailException,
        cause=SixtyfourValidationError,
        message=(
            "GET /workflows/runs/{job_id}/results/download-links failed with HTTP 400: NDJSON results are not "
            "available for this run: start the run with save_json=true to get them. format='ndjson' needs a run "
            "started with save_json=True (SixtyfourRunWorkflowOperator(save_json=True)); download format='csv' "
            "instead"
        ),
    ),
    "download-format-the-run-will-not-save": Case(
        act=lambda w: w.run_op(download_to=w.destination, download_format="ndjson"),
        error=SixtyfourInputError,
        message=(
            "download_format='ndjson' needs save_json=True (the run keeps JSON results only when started with it): "
            "pass save_json=True, or download_format='csv'"
        ),
        no_request=True,
    ),
    "destination-bare-file-uri": Case(
        setup=lambda w: w.completed_run(),
        act=lambda w: w.download_op(destination="file://"),
        error=AirflowFailException,
        cause=SixtyfourInputError,
        message=(
            "destination 'file://' names no folder (a bare file:// would be the worker's working directory): use an "
            "absolute path such as 'file:///data/sixtyfour/'"
        ),
        no_request=True,
    ),
    "destination-s3-without-bucket": Case(
        setup=lambda w: w.completed_run(),
        act=lambda w: w.download_op(destination="s3://"),
        error=AirflowFailException,
        cause=SixtyfourInputError,
        message="destination 's3://' names no bucket: use s3://BUCKET/prefix/",
        no_request=True,
    ),
    "download-to-s3-without-bucket": Case(
        act=lambda w: w.run_op(download_to="s3://"),
        error=AirflowFailException,
        message="Invalid input for the Sixtyfour run: destination 's3://' names no bucket: use s3://BUCKET/prefix/",
        no_request=True,
    ),
    "download-options-nan": Case(
        setup=lambda w: w.completed_run(),
        act=lambda w: w.download_op(download_options=DownloadOptions(read_timeout=math.nan)),
        error=AirflowFailException,
        cause=SixtyfourInputError,
        message="read_timeout must be a finite number of seconds > 0 and at most 86400 (a day), got nan",
        no_request=True,
    ),
    # ---- answers that are not the API's ------------------------------------------------------------
    "html-page-from-a-proxy": Case(
        act=lambda w: w.run_op(sixtyfour_conn_id="sixtyfour_gateway"),
        error=SixtyfourResponseError,
        message=(
            f"GET /workflows/{WEBHOOK} answered something this provider cannot read: HTTP 200 answer is an HTML "
            f"page (starts '{HTML_PAGE.decode()}'); is a proxy or a wrong base URL in the way?"
        ),
    ),
    "html-502-from-a-gateway": Case(
        setup=_fault(FaultRule(route=GET_WORKFLOW, kind="status", status=502)),
        act=lambda w: w.run_op(),
        error=SixtyfourServerError,
        message=(
            f"GET /workflows/{WEBHOOK} failed with HTTP 502: Bad Gateway (the answer was an HTML page, not the "
            "API's JSON: is a proxy in the way?)"
        ),
    ),
    "answer-missing-required-fields": Case(
        setup=_gateway_json({"name": "Leads", "status": "ready", "workflow_definition": None}),
        act=lambda w: w.run_op(sixtyfour_conn_id="sixtyfour_gateway"),
        error=SixtyfourResponseError,
        message=f"GET /workflows/{WEBHOOK} answered something this provider cannot read: required field 'id' is "
        "missing",
    ),
}


@pytest.mark.parametrize("case_id", list(CASES))
def test_bad_input_fails_with_its_message_and_pays_nothing(world: World, case_id: str) -> None:
    case = CASES[case_id]
    if case.setup is not None:
        case.setup(world)
    landing_before = sorted(p.name for p in (world.tmp / "landing").rglob("*"))
    before = world.counts()

    with pytest.raises(BaseException) as raised:  # noqa: PT011 (the class is checked exactly below)
        case.act(world)

    after = world.counts()
    err = raised.value
    assert type(err) is case.error, f"{type(err).__name__}: {err}"
    if case.cause is not None:
        assert type(err.__cause__) is case.cause, f"caused by {type(err.__cause__).__name__}"
    assert str(err) == case.message.replace("{tmp}", str(world.tmp)).replace("{job_id}", world.job_id)
    # Nothing paid for; the run route saw only the requests the API had to refuse.
    assert after["runs_started"] == before["runs_started"]
    assert after["run_requests"] - before["run_requests"] == case.run_requests
    assert after["gateway_run_requests"] == 0
    if case.no_request:
        assert after["api_requests"] == before["api_requests"]
    # No result file was fetched, and nothing was written or removed where results land.
    assert after["downloads"] == before["downloads"]
    assert sorted(p.name for p in (world.tmp / "landing").rglob("*")) == landing_before


def test_a_422_carries_the_apis_details(world: World) -> None:
    """The row above checks the message; the structured details reach the exception too."""
    detail = "webhook_payload.0.email: value is not a valid email address"
    world.emulator.add_fault(FaultRule(route=RUN_WORKFLOW, kind="status", status=422, detail=detail, count=1))
    with SixtyfourHook() as hook, pytest.raises(SixtyfourValidationError) as raised:
        hook.run_workflow(WEBHOOK, ROWS)
    assert raised.value.status_code == 422
    assert raised.value.details == [{"type": "value_error", "loc": ["body"], "msg": detail, "input": None}]
    assert world.emulator.runs_started() == 0
