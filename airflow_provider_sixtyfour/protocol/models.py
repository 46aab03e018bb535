"""Typed, frozen records of the API's answers: a started run, a listed run, a cancel answer, a result
file, a workflow and its blocks (a run's live status is in :mod:`~.live_status`, re-exported here).

Each ``from_api`` takes the decoded JSON and reads the fields it models with the checked readers of
:mod:`~airflow_provider_sixtyfour.protocol.fields`; fields it does not model are ignored. It raises
:class:`MalformedAnswer` (the transports turn it into ``SixtyfourResponseError``) when the answer is
not an object, or a required field is missing, null, blank or of the wrong type, or, for
``RunStarted.job_id``, not a UUID. An optional field of the wrong type, and a number no record can hold
(``NaN``, ``Infinity``, beyond 64 bits), reads as its default. Free-form objects (``metrics``,
``specs``, ``cache_config``) are copied as strict JSON. The records that have a ``raw`` field keep the
whole answer there, left out of comparisons and ``repr``. A :class:`DownloadLink` keeps its signed URL
out of ``repr``; :func:`~airflow_provider_sixtyfour.protocol.jsonable.to_jsonable` gives any record's
plain-JSON form, without ``raw`` and with the URL redacted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from airflow_provider_sixtyfour.protocol.fields import (
    MalformedAnswer,
    as_list,
    list_of,
    mapping,
    opt_int,
    opt_str,
    parse_timestamp,
    plain_dict,
    require,
    require_text,
)
from airflow_provider_sixtyfour.protocol.ids import is_run_id
from airflow_provider_sixtyfour.protocol.live_status import BlockProgress, HowItEnded, LiveStatus, completed_or_raw
from airflow_provider_sixtyfour.protocol.redaction import redact_url, url_host
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.protocol.statuses import ended_status as _ended_status

__all__ = [
    "BlockProgress",
    "CancelResult",
    "DownloadLink",
    "LiveStatus",
    "MalformedAnswer",
    "RunRecord",
    "RunStarted",
    "Workflow",
    "WorkflowBlock",
    "download_links",
    "parse_timestamp",
    "run_records",
    "workflows",
]


def _run_id(obj: Mapping[str, Any], key: str) -> str:
    value = require_text(obj, key)
    if not is_run_id(value):
        raise MalformedAnswer(f"field {key!r} is not a run id (a UUID), got {value[:80]!r}")
    return value


@dataclass(frozen=True)
class RunStarted:
    """The answer to ``POST /workflows/run``.

    :param job_id: the run's id (a UUID), used by every later call.
    :param already_started: True when the API recognised the ``Idempotency-Key`` and returned the
        run an earlier request started, instead of starting a new one.
    """

    job_id: str
    workflow_id: str
    status: RunStatus
    already_started: bool = False
    cache_config: dict[str, Any] | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: object) -> RunStarted:
        obj = mapping(data, "a started run")
        cache = obj.get("cache_config")
        return cls(
            job_id=_run_id(obj, "job_id"),
            workflow_id=require_text(obj, "workflow_id"),
            status=RunStatus.parse(require_text(obj, "status")),
            already_started=obj.get("already_started") is True,
            cache_config=plain_dict(obj, "cache_config") if isinstance(cache, Mapping) else None,
            raw=dict(obj),
        )


@dataclass(frozen=True)
class RunRecord(HowItEnded):
    """One run as ``GET /workflows/runs`` lists it."""

    job_id: str
    workflow_id: str
    status: RunStatus
    workflow_name: str = "Untitled Workflow"
    step: str | None = None
    user_id: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_ms: int | None = None
    status_reason: str | None = None
    error_message: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    blocks_count: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def ended_status(self) -> RunStatus | None:
        """How the run ended (completed, failed, cancelled, or unknown with ``completed_at`` set), or None."""
        return _ended_status(self.status, completed_or_raw(self.completed_at, self.raw))

    @classmethod
    def from_api(cls, data: object) -> RunRecord:
        obj = mapping(data, "a run")
        return cls(
            job_id=require_text(obj, "job_id"),
            workflow_id=require_text(obj, "workflow_id"),
            status=RunStatus.parse(require_text(obj, "status")),
            workflow_name=opt_str(obj, "workflow_name") or "Untitled Workflow",
            step=opt_str(obj, "step"),
            user_id=opt_str(obj, "user_id"),
            created_at=parse_timestamp(obj.get("created_at")),
            updated_at=parse_timestamp(obj.get("updated_at")),
            queued_at=parse_timestamp(obj.get("queued_at")),
            started_at=parse_timestamp(obj.get("started_at")),
            completed_at=parse_timestamp(obj.get("completed_at")),
            duration_ms=opt_int(obj, "duration_ms"),
            status_reason=opt_str(obj, "status_reason"),
            error_message=opt_str(obj, "error_message"),
            metrics=plain_dict(obj, "metrics"),
            blocks_count=opt_int(obj, "blocks_count", 0) or 0,
            raw=dict(obj),
        )


@dataclass(frozen=True)
class CancelResult:
    """The answer to ``POST /workflows/cancel``; cancellation may take effect later, not at once."""

    job_id: str
    status: RunStatus
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: object) -> CancelResult:
        obj = mapping(data, "a cancel answer")
        return cls(
            job_id=require_text(obj, "job_id"),
            status=RunStatus.parse(require_text(obj, "status")),
            raw=dict(obj),
        )


@dataclass(frozen=True)
class DownloadLink:
    """One result file of a run, with its signed download URL.

    The URL is a credential while it lives: it is left out of ``repr`` and must only be logged
    through :attr:`safe_url` (host and path).
    """

    filename: str
    storage_bucket: str
    row_count: int = 0
    block_number: int | None = None
    created_at: datetime | None = None
    message: str | None = None
    content_type: str | None = None
    download_url: str | None = field(default=None, repr=False)
    expires_in_seconds: int = 900
    file_size: int | None = None
    results: list[dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def safe_url(self) -> str:
        """The download URL with its query string (the signature) removed; safe for logs."""
        return redact_url(self.download_url) if self.download_url else "<no download url>"

    @property
    def host(self) -> str:
        """The host serving the file, safe for logs."""
        return url_host(self.download_url) if self.download_url else "<no download url>"

    @classmethod
    def from_api(cls, data: object) -> DownloadLink:
        obj = mapping(data, "a result file")
        results = obj.get("results")
        return cls(
            filename=require(obj, "filename", str),
            storage_bucket=require(obj, "storage_bucket", str),
            row_count=opt_int(obj, "row_count", 0) or 0,
            block_number=opt_int(obj, "block_number"),
            created_at=parse_timestamp(obj.get("created_at")),
            message=opt_str(obj, "message"),
            content_type=opt_str(obj, "content_type"),
            download_url=opt_str(obj, "download_url"),
            expires_in_seconds=opt_int(obj, "download_expires_in_seconds", 900) or 0,
            file_size=opt_int(obj, "file_size"),
            results=[dict(r) for r in results if isinstance(r, Mapping)] if isinstance(results, list) else None,
        )


@dataclass(frozen=True)
class WorkflowBlock:
    """One block of a workflow's definition."""

    sequence_number: int
    block_type: str
    block_name: str
    specs: dict[str, Any] = field(default_factory=dict)
    block_id: str | None = None

    @classmethod
    def from_api(cls, data: object) -> WorkflowBlock:
        obj = mapping(data, "a workflow block")
        return cls(
            sequence_number=require(obj, "sequence_number", int),
            block_type=str(obj.get("block_type") or ""),
            block_name=require(obj, "block_name", str),
            specs=plain_dict(obj, "specs"),
            block_id=opt_str(obj, "block_id"),
        )


@dataclass(frozen=True)
class Workflow:
    """A workflow (``GET /workflows/{id}`` includes its blocks; the list does not)."""

    id: str
    name: str
    status: str
    step: str | None = None
    description: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_run_date: datetime | None = None
    blocks: tuple[WorkflowBlock, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def first_block_name(self) -> str | None:
        """The ``block_name`` of the block that runs first (``webhook``, ``read_csv``, ...), if known."""
        if not self.blocks:
            return None
        return min(self.blocks, key=lambda b: b.sequence_number).block_name

    @property
    def takes_webhook_payload(self) -> bool:
        """True when the first block is ``webhook``: the run needs ``webhook_payload`` rows."""
        return self.first_block_name == "webhook"

    @property
    def takes_csv_upload(self) -> bool:
        """True when the first block is ``read_csv``: the run needs an uploaded CSV."""
        return self.first_block_name == "read_csv"

    @classmethod
    def from_api(cls, data: object) -> Workflow:
        obj = mapping(data, "a workflow")
        definition = obj.get("workflow_definition")
        blocks: tuple[WorkflowBlock, ...] = ()
        if isinstance(definition, Mapping):
            blocks = tuple(WorkflowBlock.from_api(b) for b in as_list(definition.get("blocks") or [], "blocks"))
        return cls(
            id=require_text(obj, "id"),
            name=require(obj, "name", str),
            status=str(obj.get("status") or ""),
            step=opt_str(obj, "step"),
            description=opt_str(obj, "description"),
            created_at=parse_timestamp(obj.get("created_at")),
            updated_at=parse_timestamp(obj.get("updated_at")),
            last_run_date=parse_timestamp(obj.get("last_run_date")),
            blocks=blocks,
            raw=dict(obj),
        )


#: Parsers of the API's lists: ``GET /workflows/runs`` (``runs``), a run's download links, ``GET /workflows``.
run_records = list_of(RunRecord.from_api, "runs")
download_links = list_of(DownloadLink.from_api, "result files")
workflows = list_of(Workflow.from_api, "workflows")
