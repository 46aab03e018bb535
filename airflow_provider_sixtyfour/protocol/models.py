"""Typed records parsed from the API's answers.

Each ``from_api`` reads the documented fields (names and types from the vendor's OpenAPI document),
ignores fields it does not know, and raises :class:`SixtyfourResponseError` only when a required
field is missing or of the wrong type. The parsed JSON is kept in ``raw`` for anything not modelled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from airflow_provider_sixtyfour.protocol.redaction import redact_url, url_host
from airflow_provider_sixtyfour.protocol.statuses import BlockStatus, RunStatus
from airflow_provider_sixtyfour.protocol.statuses import ended_status as _ended_status

T = TypeVar("T")


class MalformedAnswer(ValueError):
    """An answer lacks a required field or has one of the wrong type (turned into SixtyfourResponseError)."""


def _require(data: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...]) -> T:
    if key not in data or data[key] is None:
        raise MalformedAnswer(f"required field {key!r} is missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MalformedAnswer(f"field {key!r} should be {_kind_name(kind)}, got {type(value).__name__}")
    return value  # type: ignore[return-value]


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _opt_int(data: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(data: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    value = data.get(key)
    try:
        return float(value) if value is not None else default
    except (TypeError, ValueError):
        return default


def _dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return dict(value) if isinstance(value, Mapping) else {}


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp of the API; ``None`` for missing or unreadable values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _mapping(data: object, what: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise MalformedAnswer(f"expected a JSON object for {what}, got {type(data).__name__}")
    return data


def _list(data: object, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise MalformedAnswer(f"expected a JSON list of {what}, got {type(data).__name__}")
    return data


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
        obj = _mapping(data, "a started run")
        cache = obj.get("cache_config")
        return cls(
            job_id=_require(obj, "job_id", str),
            workflow_id=_require(obj, "workflow_id", str),
            status=RunStatus.parse(_require(obj, "status", str)),
            already_started=bool(obj.get("already_started")),
            cache_config=dict(cache) if isinstance(cache, Mapping) else None,
            raw=dict(obj),
        )


@dataclass(frozen=True)
class RunRecord:
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
        return _ended_status(self.status, self.completed_at)

    @classmethod
    def from_api(cls, data: object) -> RunRecord:
        obj = _mapping(data, "a run")
        return cls(
            job_id=_require(obj, "job_id", str),
            workflow_id=_require(obj, "workflow_id", str),
            status=RunStatus.parse(_require(obj, "status", str)),
            workflow_name=str(obj.get("workflow_name") or "Untitled Workflow"),
            step=_opt_str(obj, "step"),
            user_id=_opt_str(obj, "user_id"),
            created_at=parse_timestamp(obj.get("created_at")),
            updated_at=parse_timestamp(obj.get("updated_at")),
            queued_at=parse_timestamp(obj.get("queued_at")),
            started_at=parse_timestamp(obj.get("started_at")),
            completed_at=parse_timestamp(obj.get("completed_at")),
            duration_ms=_opt_int(obj, "duration_ms"),
            status_reason=_opt_str(obj, "status_reason"),
            error_message=_opt_str(obj, "error_message"),
            metrics=_dict(obj, "metrics"),
            blocks_count=_opt_int(obj, "blocks_count", 0) or 0,
            raw=dict(obj),
        )

    @classmethod
    def list_from_api(cls, data: object) -> list[RunRecord]:
        return [cls.from_api(item) for item in _list(data, "runs")]


@dataclass(frozen=True)
class BlockProgress:
    """One block's live status inside a run."""

    block_name: str
    sequence_number: int
    status: BlockStatus
    progress_percentage: float = 0.0
    current_step: str | None = None
    processed_count: int = 0
    total_count: int = 0
    error_message: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def row_count(self) -> int | None:
        """Rows the block produced so far (``metrics.row_count``), when the API says."""
        return _opt_int(self.metrics, "row_count")

    @classmethod
    def from_api(cls, data: object) -> BlockProgress:
        obj = _mapping(data, "a block status")
        return cls(
            block_name=_require(obj, "block_name", str),
            sequence_number=_require(obj, "sequence_number", int),
            status=BlockStatus.parse(_require(obj, "status", str)),
            progress_percentage=_float(obj, "progress_percentage"),
            current_step=_opt_str(obj, "current_step"),
            processed_count=_opt_int(obj, "processed_count", 0) or 0,
            total_count=_opt_int(obj, "total_count", 0) or 0,
            error_message=_opt_str(obj, "error_message"),
            started_at=parse_timestamp(obj.get("started_at")),
            completed_at=parse_timestamp(obj.get("completed_at")),
            metrics=_dict(obj, "metrics"),
        )


@dataclass(frozen=True)
class LiveStatus:
    """A run's live status (``GET /workflows/runs/{run_id}/live_status``)."""

    run_id: str
    workflow_id: str
    status: RunStatus
    last_updated: datetime | None = None
    current_block: str | None = None
    current_block_sequence: int | None = None
    total_blocks: int = 0
    completed_blocks: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    blocks: tuple[BlockProgress, ...] = ()
    progress_percentage: float = 0.0
    estimation_blocked_by: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def job_id(self) -> str:
        """Same as ``run_id``: the API calls the run's id ``job_id`` elsewhere."""
        return self.run_id

    @property
    def rows_processed(self) -> int:
        """Rows processed by the block running now (or the last one), for progress lines."""
        current = [b for b in self.blocks if b.status is BlockStatus.RUNNING] or list(self.blocks[-1:])
        return current[0].processed_count if current else 0

    @property
    def error_message(self) -> str | None:
        """Why the run failed, from the failed block(s) or the answer's own ``error_message``."""
        messages = [f"{b.block_name}: {b.error_message}" for b in self.blocks if b.error_message]
        top = self.raw.get("error_message") or self.raw.get("status_reason")
        if top:
            messages.insert(0, str(top))
        return "; ".join(messages) or None

    @classmethod
    def from_api(cls, data: object) -> LiveStatus:
        obj = _mapping(data, "a live status")
        blocks = tuple(BlockProgress.from_api(b) for b in _list(obj.get("blocks") or [], "blocks"))
        return cls(
            run_id=_require(obj, "run_id", str),
            workflow_id=_require(obj, "workflow_id", str),
            status=RunStatus.parse(_require(obj, "overall_status", str)),
            last_updated=parse_timestamp(obj.get("last_updated")),
            current_block=_opt_str(obj, "current_block"),
            current_block_sequence=_opt_int(obj, "current_block_sequence"),
            total_blocks=_opt_int(obj, "total_blocks", 0) or 0,
            completed_blocks=_opt_int(obj, "completed_blocks", 0) or 0,
            started_at=parse_timestamp(obj.get("started_at")),
            completed_at=parse_timestamp(obj.get("completed_at")),
            blocks=blocks,
            progress_percentage=_float(obj, "overall_progress_percentage"),
            estimation_blocked_by=_opt_str(obj, "estimation_blocked_by"),
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
        obj = _mapping(data, "a cancel answer")
        return cls(
            job_id=_require(obj, "job_id", str),
            status=RunStatus.parse(_require(obj, "status", str)),
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
        obj = _mapping(data, "a result file")
        results = obj.get("results")
        return cls(
            filename=_require(obj, "filename", str),
            storage_bucket=_require(obj, "storage_bucket", str),
            row_count=_opt_int(obj, "row_count", 0) or 0,
            block_number=_opt_int(obj, "block_number"),
            created_at=parse_timestamp(obj.get("created_at")),
            message=_opt_str(obj, "message"),
            content_type=_opt_str(obj, "content_type"),
            download_url=_opt_str(obj, "download_url"),
            expires_in_seconds=_opt_int(obj, "download_expires_in_seconds", 900) or 0,
            file_size=_opt_int(obj, "file_size"),
            results=[dict(r) for r in results if isinstance(r, Mapping)] if isinstance(results, list) else None,
        )

    @classmethod
    def list_from_api(cls, data: object) -> list[DownloadLink]:
        return [cls.from_api(item) for item in _list(data, "result files")]


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
        obj = _mapping(data, "a workflow block")
        return cls(
            sequence_number=_require(obj, "sequence_number", int),
            block_type=str(obj.get("block_type") or ""),
            block_name=_require(obj, "block_name", str),
            specs=_dict(obj, "specs"),
            block_id=_opt_str(obj, "block_id"),
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
        obj = _mapping(data, "a workflow")
        definition = obj.get("workflow_definition")
        blocks: tuple[WorkflowBlock, ...] = ()
        if isinstance(definition, Mapping):
            blocks = tuple(WorkflowBlock.from_api(b) for b in _list(definition.get("blocks") or [], "blocks"))
        return cls(
            id=_require(obj, "id", str),
            name=_require(obj, "name", str),
            status=str(obj.get("status") or ""),
            step=_opt_str(obj, "step"),
            description=_opt_str(obj, "description"),
            created_at=parse_timestamp(obj.get("created_at")),
            updated_at=parse_timestamp(obj.get("updated_at")),
            last_run_date=parse_timestamp(obj.get("last_run_date")),
            blocks=blocks,
            raw=dict(obj),
        )

    @classmethod
    def list_from_api(cls, data: object) -> list[Workflow]:
        return [cls.from_api(item) for item in _list(data, "workflows")]
