"""The API's routes and how to build each request; no I/O.

Each builder returns an :class:`ApiCall`: everything a transport (sync or async) needs to send the
request, plus the parser that turns the JSON answer into a typed record. Route templates use the
``{name}`` syntax, shared with the emulator's router.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.fields import MalformedAnswer, as_list, mapping, require_text
from airflow_provider_sixtyfour.protocol.ids import check_job_id, check_workflow_id, same_run
from airflow_provider_sixtyfour.protocol.models import (
    CancelResult,
    DownloadLink,
    LiveStatus,
    RunRecord,
    RunStarted,
    Workflow,
)
from airflow_provider_sixtyfour.protocol.statuses import LIST_STATUS_FILTERS

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BASE_URL = "https://api.sixtyfour.ai"
API_KEY_HEADER = "x-api-key"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"

# Route templates: the single definition of the API's paths (the emulator routes on these too).
RUN_WORKFLOW = "/workflows/run"
LIST_RUNS = "/workflows/runs"
LIVE_STATUS = "/workflows/runs/{run_id}/live_status"
CANCEL_RUN = "/workflows/cancel"
DOWNLOAD_LINKS = "/workflows/runs/{run_id}/results/download-links"
UPLOAD_CSV = "/storage/csv/upload"
LIST_WORKFLOWS = "/workflows"
GET_WORKFLOW = "/workflows/{workflow_id}"

ALL_ROUTES: tuple[str, ...] = (
    RUN_WORKFLOW,
    LIST_RUNS,
    LIVE_STATUS,
    CANCEL_RUN,
    DOWNLOAD_LINKS,
    UPLOAD_CSV,
    LIST_WORKFLOWS,
    GET_WORKFLOW,
)

# The CSV upload is not in the OpenAPI document: its field and answer names are assumptions, kept here.
UPLOAD_FIELD_NAME = "file"
UPLOAD_HANDLE_KEY = "handle_id"
#: The ``specs_override`` key that hands an uploaded CSV to a ``read_csv`` workflow.
RESOURCE_HANDLE_SPEC_KEY = "resource_handle_id"

LIST_LIMIT_MAX = 500
#: The ``format`` values of download links; every one but ``csv`` needs a run started with ``save_json=true``.
RESULT_FORMATS = ("csv", "json", "ndjson")
SAVE_JSON_FORMATS = frozenset({"json", "ndjson"})


def check_result_format(format: object) -> str:
    """``format`` if download links take it; raises :class:`SixtyfourInputError` naming the choices otherwise."""
    if not isinstance(format, str) or format not in RESULT_FORMATS:
        raise SixtyfourInputError(f"format must be one of {list(RESULT_FORMATS)}, got {format!r}")
    return format


@dataclass(frozen=True)
class Upload:
    """A multipart file part of a request."""

    field_name: str
    filename: str
    content: IO[bytes]
    content_type: str = "text/csv"


@dataclass(frozen=True)
class ApiCall(Generic[T]):
    """One request to the API and how to read its answer.

    :param method: HTTP method.
    :param route: the route template (for logs, stats and errors), e.g. ``/workflows/runs/{run_id}/live_status``.
    :param path: the concrete path, ids filled in and quoted.
    :param params: query parameters.
    :param json_body: JSON body, or None.
    :param headers: extra headers for this call (the transport adds auth and User-Agent).
    :param retry_safe: whether the call may be sent again when its answer is lost; a run start is
        retry-safe only because it always carries an ``Idempotency-Key``.
    :param parse: turns the decoded JSON answer into the returned record.
    """

    method: str
    route: str
    path: str
    parse: Callable[[Any], T]
    params: Mapping[str, str] = field(default_factory=dict)
    json_body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    upload: Upload | None = None
    retry_safe: bool = True

    def describe(self) -> str:
        """``METHOD /path`` for messages (no secrets: API paths carry ids only)."""
        return f"{self.method} {self.path}"


def _about_run(parse: Callable[[Any], R], run_id: str, key: str) -> Callable[[Any], R]:
    """``parse``, then check that the record names the run asked for: a cache or proxy that mixes up
    answers must not make one run's status (or results) pass for another's."""

    def checked(data: Any) -> R:
        record = parse(data)
        named = str(getattr(record, key))
        if not same_run(named, run_id):
            raise MalformedAnswer(
                f"the answer is about run {named[:80]!r}, not the run asked for ({run_id!r}); is a cache or proxy "
                "mixing up answers?"
            )
        return record

    return checked


def _of_workflow(parse: Callable[[Any], R], workflow_id: str, key: str) -> Callable[[Any], R]:
    """``parse``, then check that the record names the workflow asked for."""

    def checked(data: Any) -> R:
        record = parse(data)
        named = str(getattr(record, key))
        if named != workflow_id:
            raise MalformedAnswer(
                f"the answer is about workflow {named[:80]!r}, not the workflow asked for ({workflow_id!r}); is a "
                "cache or proxy mixing up answers?"
            )
        return record

    return checked


def validate_webhook_payload(payload: object) -> list[dict[str, Any]] | dict[str, Any]:
    """Check that a webhook payload is a dict or a list of dicts and JSON-serialisable; return it."""
    if isinstance(payload, Mapping):
        rows: list[Any] = [payload]
    elif isinstance(payload, (list, tuple)):
        rows = list(payload)
    else:
        raise SixtyfourInputError(
            f"webhook_payload must be a dict or a list of dicts (one per row), got {type(payload).__name__}"
        )
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SixtyfourInputError(
                f"webhook_payload row {index} is a {type(row).__name__}, not a dict: each row must be a "
                "dict of column name to value"
            )
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise SixtyfourInputError(
            f"webhook_payload is not JSON-serialisable ({err}): convert dates, decimals and other "
            "objects to strings or numbers first"
        ) from None
    if isinstance(payload, Mapping):
        return dict(payload)
    return [dict(row) for row in rows]


def _parse_handle(data: object) -> str:
    return require_text(mapping(data, "an upload answer"), UPLOAD_HANDLE_KEY)


def run_workflow(
    workflow_id: str,
    webhook_payload: object = None,
    specs_override: Mapping[str, Any] | None = None,
    *,
    save_json: bool = False,
    idempotency_key: str,
) -> ApiCall[RunStarted]:
    """``POST /workflows/run``: start a run. Sent with an ``Idempotency-Key`` so it is safe to retry."""
    workflow_id = check_workflow_id(workflow_id)
    if not idempotency_key:
        raise SixtyfourInputError("idempotency_key is empty")
    body: dict[str, Any] = {}
    if specs_override is not None:
        if not isinstance(specs_override, Mapping):
            raise SixtyfourInputError(f"specs_override must be a dict, got {type(specs_override).__name__}")
        try:
            json.dumps(specs_override, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise SixtyfourInputError(f"specs_override is not JSON-serialisable ({err})") from None
        body["specs_override"] = dict(specs_override)
    if webhook_payload is not None:
        body["webhook_payload"] = validate_webhook_payload(webhook_payload)
    params = {"workflow_id": workflow_id}
    if save_json:
        params["save_json"] = "true"
    return ApiCall(
        method="POST",
        route=RUN_WORKFLOW,
        path=RUN_WORKFLOW,
        params=params,
        json_body=body or None,
        headers={IDEMPOTENCY_KEY_HEADER: idempotency_key},
        parse=_of_workflow(RunStarted.from_api, workflow_id, "workflow_id"),
        retry_safe=True,
    )


def list_runs(
    status: str | None = None,
    workflow_id: str | None = None,
    limit: int = 100,
    *,
    reuse: Mapping[str, RunRecord] | None = None,
) -> ApiCall[list[RunRecord]]:
    """``GET /workflows/runs``: the organisation's runs, newest first.

    :param reuse: records of an earlier list, by job id: a run whose record the API answers unchanged
        (the same JSON) comes back as that same object instead of a new one (see :func:`runs_reusing`).
    """
    params: dict[str, str] = {}
    if status is not None:
        status_value = str(getattr(status, "value", status)).lower()
        if status_value == "canceled":
            status_value = "cancelled"
        if status_value not in LIST_STATUS_FILTERS:
            raise SixtyfourInputError(
                f"status {status!r} is not a filter the API knows; use one of {sorted(LIST_STATUS_FILTERS)}"
            )
        params["status"] = status_value
    if workflow_id is not None:
        params["workflow_id"] = check_workflow_id(workflow_id)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= LIST_LIMIT_MAX:
        raise SixtyfourInputError(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}, got {limit!r}")
    params["limit"] = str(limit)
    return ApiCall(method="GET", route=LIST_RUNS, path=LIST_RUNS, params=params, parse=_runs_at_most(limit, reuse))


def _runs_at_most(limit: int, reuse: Mapping[str, RunRecord] | None) -> Callable[[Any], list[RunRecord]]:
    """The run-list parser that refuses more records than ``limit`` (before parsing any of them)."""

    def parse(data: object) -> list[RunRecord]:
        if isinstance(data, list) and len(data) > limit:
            raise MalformedAnswer(
                f"the API answered {len(data)} runs for limit={limit}; an answer with more runs than asked "
                "for is not taken"
            )
        if not reuse:
            return RunRecord.list_from_api(data)
        return runs_reusing(as_list(data, "runs"), reuse)

    return parse


def runs_reusing(items: list[Any], reuse: Mapping[str, RunRecord]) -> list[RunRecord]:
    """Parse listed runs, taking the record of ``reuse`` for every item that equals what it was parsed from.

    The shared poller lists the same thousands of runs every cycle, and most of them have not changed:
    reusing their records instead of parsing new ones keeps those objects out of the garbage collector's
    oldest generation (whose full collections pause every trigger of the triggerer).
    """
    records: list[RunRecord] = []
    for item in items:
        known = reuse.get(item.get("job_id")) if type(item) is dict else None  # type: ignore[arg-type]
        records.append(known if known is not None and known.raw == item else RunRecord.from_api(item))
    return records


def get_live_status(job_id: str) -> ApiCall[LiveStatus]:
    """``GET /workflows/runs/{run_id}/live_status``: a run's status and per-block progress."""
    run_id = check_job_id(job_id)
    return ApiCall(
        method="GET",
        route=LIVE_STATUS,
        path=LIVE_STATUS.format(run_id=quote(run_id, safe="")),
        parse=_about_run(LiveStatus.from_api, run_id, "run_id"),
    )


def cancel_run(job_id: str) -> ApiCall[CancelResult]:
    """``POST /workflows/cancel``: ask for a run to stop. Harmless on a finished run, so retry-safe."""
    job_id = check_job_id(job_id)
    return ApiCall(
        method="POST",
        route=CANCEL_RUN,
        path=CANCEL_RUN,
        params={"job_id": job_id},
        json_body={},
        parse=_about_run(CancelResult.from_api, job_id, "job_id"),
    )


def get_download_links(job_id: str, format: str = "csv") -> ApiCall[list[DownloadLink]]:
    """``GET /workflows/runs/{run_id}/results/download-links``: one signed link per result file."""
    run_id = check_job_id(job_id)
    format = check_result_format(format)
    return ApiCall(
        method="GET",
        route=DOWNLOAD_LINKS,
        path=DOWNLOAD_LINKS.format(run_id=quote(run_id, safe="")),
        params={"format": format},
        parse=DownloadLink.list_from_api,
    )


def upload_csv(filename: str, content: IO[bytes]) -> ApiCall[str]:
    """``POST /storage/csv/upload``: upload a CSV for a ``read_csv`` workflow; answers its handle id."""
    return ApiCall(
        method="POST",
        route=UPLOAD_CSV,
        path=UPLOAD_CSV,
        upload=Upload(field_name=UPLOAD_FIELD_NAME, filename=filename, content=content),
        parse=_parse_handle,
    )


def list_workflows() -> ApiCall[list[Workflow]]:
    """``GET /workflows``: the organisation's workflows (without their definitions)."""
    return ApiCall(method="GET", route=LIST_WORKFLOWS, path=LIST_WORKFLOWS, parse=Workflow.list_from_api)


def get_workflow(workflow_id: str) -> ApiCall[Workflow]:
    """``GET /workflows/{workflow_id}``: one workflow with its blocks."""
    workflow_id = check_workflow_id(workflow_id)
    return ApiCall(
        method="GET",
        route=GET_WORKFLOW,
        path=GET_WORKFLOW.format(workflow_id=quote(workflow_id, safe="")),
        parse=_of_workflow(Workflow.from_api, workflow_id, "id"),
    )


def new_idempotency_key() -> str:
    """A fresh random idempotency key, for run starts whose caller gave none."""
    return f"airflow-sixtyfour-{uuid.uuid4()}"
