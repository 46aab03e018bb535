"""The API's routes and how to build each request; no I/O.

Each builder returns an :class:`ApiCall`: everything a transport (sync or async) needs to send the
request, plus the parser that turns the JSON answer into a typed record. Route templates use the
``{name}`` syntax, shared with the emulator's router.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

from airflow_provider_sixtyfour.protocol import models, validate
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.fields import MalformedAnswer, as_list, mapping, require_text
from airflow_provider_sixtyfour.protocol.ids import same_run

# Re-exported: the checks own these API facts.
from airflow_provider_sixtyfour.protocol.validate import LIST_LIMIT_MAX as LIST_LIMIT_MAX
from airflow_provider_sixtyfour.protocol.validate import RESULT_FORMATS as RESULT_FORMATS
from airflow_provider_sixtyfour.protocol.validate import SAVE_JSON_FORMATS as SAVE_JSON_FORMATS

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_BASE_URL = "https://api.sixtyfour.ai"
API_KEY_HEADER = "x-api-key"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
#: How every key this provider sends starts: the task-derived ones and the random ones alike.
IDEMPOTENCY_KEY_PREFIX = "airflow-sixtyfour-"

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


def _path(route: str, **ids: str) -> str:
    """``route`` with its ``{name}`` placeholders filled in, each id quoted as one path segment."""
    return route.format(**{name: quote(value, safe="") for name, value in ids.items()})


def _naming(parse: Callable[[Any], R], key: str, asked: str, what: str) -> Callable[[Any], R]:
    """``parse``, then check that the record's ``key`` names the run or workflow asked for: a cache or
    proxy that mixes up answers must not make one run's status (or results) pass for another's."""

    def checked(data: Any) -> R:
        record = parse(data)
        named = str(getattr(record, key))
        if not (same_run(named, asked) if what == "run" else named == asked):
            raise MalformedAnswer(
                f"the answer is about {what} {named[:80]!r}, not the {what} asked for ({asked!r}); is a cache or "
                "proxy mixing up answers?"
            )
        return record

    return checked


def _get_one(route: str, parse: Callable[[Any], R], key: str, **ids: str) -> ApiCall[R]:
    """``GET route`` for one run (``run_id=``) or workflow (``workflow_id=``), its answer checked to name it."""
    ((name, asked),) = ids.items()
    what = "run" if name == "run_id" else "workflow"
    return ApiCall(method="GET", route=route, path=_path(route, **ids), parse=_naming(parse, key, asked, what))


def _parse_handle(data: object) -> str:
    return require_text(mapping(data, "an upload answer"), UPLOAD_HANDLE_KEY)


def run_workflow(
    workflow_id: str,
    webhook_payload: object = None,
    specs_override: Mapping[str, Any] | None = None,
    *,
    save_json: bool = False,
    idempotency_key: str,
) -> ApiCall[models.RunStarted]:
    """``POST /workflows/run``: start a run. Sent with an ``Idempotency-Key`` so it is safe to retry."""
    workflow_id = validate.workflow_id(workflow_id)
    if not idempotency_key:
        raise SixtyfourInputError("idempotency_key is empty")
    body: dict[str, Any] = {}
    specs = validate.specs_override(specs_override)
    if specs is not None:
        body["specs_override"] = specs
    if webhook_payload is not None:
        body["webhook_payload"] = validate.webhook_payload(webhook_payload)
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
        parse=_naming(models.RunStarted.from_api, "workflow_id", workflow_id, "workflow"),
        retry_safe=True,
    )


def list_runs(
    status: str | None = None,
    workflow_id: str | None = None,
    limit: int = 100,
    *,
    reuse: Mapping[str, models.RunRecord] | None = None,
) -> ApiCall[list[models.RunRecord]]:
    """``GET /workflows/runs``: the organisation's runs, newest first.

    :param reuse: records of an earlier list, by job id: a run whose record the API answers unchanged
        (the same JSON) comes back as that same object instead of a new one (see :func:`runs_reusing`).
    """
    params: dict[str, str] = {}
    if status is not None:
        params["status"] = validate.list_status(status)
    if workflow_id is not None:
        params["workflow_id"] = validate.workflow_id(workflow_id)
    params["limit"] = str(validate.list_limit(limit))
    return ApiCall(method="GET", route=LIST_RUNS, path=LIST_RUNS, params=params, parse=_runs_at_most(limit, reuse))


def _runs_at_most(limit: int, reuse: Mapping[str, models.RunRecord] | None) -> Callable[[Any], list[models.RunRecord]]:
    """The run-list parser that refuses more records than ``limit`` (before parsing any of them)."""

    def parse(data: object) -> list[models.RunRecord]:
        if isinstance(data, list) and len(data) > limit:
            raise MalformedAnswer(
                f"the API answered {len(data)} runs for limit={limit}; an answer with more runs than asked "
                "for is not taken"
            )
        return runs_reusing(as_list(data, "runs"), reuse or {})

    return parse


def runs_reusing(items: list[Any], reuse: Mapping[str, models.RunRecord]) -> list[models.RunRecord]:
    """Parse listed runs, taking the record of ``reuse`` for every item that equals what it was parsed from.

    The shared poller lists the same thousands of runs every cycle, and most of them have not changed:
    reusing their records instead of parsing new ones keeps those objects out of the garbage collector's
    oldest generation (whose full collections pause every trigger of the triggerer).
    """
    records: list[models.RunRecord] = []
    for item in items:
        known = reuse.get(item.get("job_id")) if type(item) is dict else None  # type: ignore[arg-type]
        records.append(known if known is not None and known.raw == item else models.RunRecord.from_api(item))
    return records


def get_live_status(job_id: str) -> ApiCall[models.LiveStatus]:
    """``GET /workflows/runs/{run_id}/live_status``: a run's status and per-block progress."""
    return _get_one(LIVE_STATUS, models.LiveStatus.from_api, "run_id", run_id=validate.job_id(job_id))


def cancel_run(job_id: str) -> ApiCall[models.CancelResult]:
    """``POST /workflows/cancel``: ask for a run to stop. Harmless on a finished run, so retry-safe."""
    job_id = validate.job_id(job_id)
    return ApiCall(
        method="POST",
        route=CANCEL_RUN,
        path=CANCEL_RUN,
        params={"job_id": job_id},
        json_body={},
        parse=_naming(models.CancelResult.from_api, "job_id", job_id, "run"),
    )


def get_download_links(job_id: str, format: str = "csv") -> ApiCall[list[models.DownloadLink]]:
    """``GET /workflows/runs/{run_id}/results/download-links``: one signed link per result file."""
    run_id = validate.job_id(job_id)
    format = validate.result_format(format)
    return ApiCall(
        method="GET",
        route=DOWNLOAD_LINKS,
        path=_path(DOWNLOAD_LINKS, run_id=run_id),
        params={"format": format},
        parse=models.download_links,
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


def list_workflows() -> ApiCall[list[models.Workflow]]:
    """``GET /workflows``: the organisation's workflows (without their definitions)."""
    return ApiCall(method="GET", route=LIST_WORKFLOWS, path=LIST_WORKFLOWS, parse=models.workflows)


def get_workflow(workflow_id: str) -> ApiCall[models.Workflow]:
    """``GET /workflows/{workflow_id}``: one workflow with its blocks."""
    return _get_one(GET_WORKFLOW, models.Workflow.from_api, "id", workflow_id=validate.workflow_id(workflow_id))


def new_idempotency_key() -> str:
    """A fresh random idempotency key, for run starts whose caller gave none."""
    return f"{IDEMPOTENCY_KEY_PREFIX}{uuid.uuid4()}"
