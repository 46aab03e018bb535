"""A run's live status (``GET /workflows/runs/{run_id}/live_status``) and its plain-JSON form; no I/O.

:meth:`LiveStatus.from_api` reads the API's answer. :meth:`LiveStatus.to_json` is the form that
leaves the process: trigger events, the sensor's XCom, the run operator's lineage facts. It is strict
JSON, holds no secret (a live status carries neither the key nor a signed URL), and
:meth:`LiveStatus.from_json` reads it back with nothing lost that the provider uses: the status as the
API spelled it, ``completed_at`` and the API's own reason, which :attr:`LiveStatus.has_ended`,
:attr:`LiveStatus.reported_status` and :attr:`LiveStatus.error_message` need. ``from_json`` also reads
the form earlier versions put in trigger events (without ``reported_status`` and ``error_message``), so
an event a running deployment serialized before an upgrade still resumes its task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from airflow_provider_sixtyfour.protocol.fields import (
    as_list,
    mapping,
    opt_float,
    opt_int,
    opt_str,
    parse_timestamp,
    plain_dict,
    require,
    require_text,
)
from airflow_provider_sixtyfour.protocol.statuses import BlockStatus, RunStatus, run_has_ended, spelled_status

__all__ = ["BlockProgress", "LiveStatus", "completed_or_raw", "reported_status"]


def reported_status(raw: Mapping[str, Any], key: str, status: RunStatus) -> str:
    """The status as the API spelled it in ``raw[key]``, or ``status``'s value when ``raw`` lacks it."""
    return spelled_status(raw[key]) if key in raw else status.value


def completed_or_raw(completed_at: datetime | None, raw: Mapping[str, Any]) -> object:
    """``completed_at``, or the API's unparsed value when it was not a timestamp (it still means "ended")."""
    return completed_at if completed_at is not None else raw.get("completed_at")


class HowItEnded:
    """``reported_status`` and ``has_ended`` of a record with ``status``, ``completed_at`` and ``raw`` (a
    live status or a listed run); :attr:`STATUS_KEY` names the field the API spells the status in."""

    __slots__ = ()
    STATUS_KEY: ClassVar[str] = "status"
    status: RunStatus
    completed_at: datetime | None
    raw: Mapping[str, Any]

    @property
    def reported_status(self) -> str:
        """The status as the API spelled it (``timeout`` where :attr:`status` is ``UNKNOWN``)."""
        return reported_status(self.raw, self.STATUS_KEY, self.status)

    @property
    def has_ended(self) -> bool:
        """True once the run has ended: a terminal status, or an unknown one with ``completed_at`` set."""
        return run_has_ended(self.status, completed_or_raw(self.completed_at, self.raw))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _block_details(obj: Mapping[str, Any]) -> dict[str, Any]:
    # The optional fields of a block, named alike in the API's answer and in the JSON form.
    return {
        "progress_percentage": opt_float(obj, "progress_percentage"),
        "current_step": opt_str(obj, "current_step"),
        "processed_count": opt_int(obj, "processed_count", 0) or 0,
        "total_count": opt_int(obj, "total_count", 0) or 0,
        "error_message": opt_str(obj, "error_message"),
        "started_at": parse_timestamp(obj.get("started_at")),
        "completed_at": parse_timestamp(obj.get("completed_at")),
        "metrics": plain_dict(obj, "metrics"),
    }


def _run_details(obj: Mapping[str, Any]) -> dict[str, Any]:
    # The optional fields of a live status, named alike in the API's answer and in the JSON form.
    return {
        "last_updated": parse_timestamp(obj.get("last_updated")),
        "current_block": opt_str(obj, "current_block"),
        "current_block_sequence": opt_int(obj, "current_block_sequence"),
        "total_blocks": opt_int(obj, "total_blocks", 0) or 0,
        "completed_blocks": opt_int(obj, "completed_blocks", 0) or 0,
        "started_at": parse_timestamp(obj.get("started_at")),
        "completed_at": parse_timestamp(obj.get("completed_at")),
        "estimation_blocked_by": opt_str(obj, "estimation_blocked_by"),
    }


def _unparsed(value: object) -> str | None:
    # A completed_at the API sent that is not a timestamp still says the run ended: keep it (bounded).
    return value[:80] if isinstance(value, str) and value.strip() else None


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
        return opt_int(self.metrics, "row_count")

    @classmethod
    def from_api(cls, data: object) -> BlockProgress:
        obj = mapping(data, "a block status")
        return cls(
            block_name=require_text(obj, "block_name"),
            sequence_number=require(obj, "sequence_number", int),
            status=BlockStatus.parse(require(obj, "status", str)),
            **_block_details(obj),
        )

    def to_json(self) -> dict[str, Any]:
        """This block as strict JSON (the field names of this class)."""
        return {
            "block_name": self.block_name,
            "sequence_number": self.sequence_number,
            "status": self.status.value,
            "progress_percentage": self.progress_percentage,
            "current_step": self.current_step,
            "processed_count": self.processed_count,
            "total_count": self.total_count,
            "error_message": self.error_message,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_json(cls, data: object) -> BlockProgress:
        """Read :meth:`to_json`'s form back; a missing or mistyped field reads as its default."""
        obj = mapping(data, "a block status's JSON form")
        return cls(
            block_name=opt_str(obj, "block_name") or "",
            sequence_number=opt_int(obj, "sequence_number", 0) or 0,
            status=BlockStatus.parse(obj.get("status")),
            **_block_details(obj),
        )


@dataclass(frozen=True)
class LiveStatus(HowItEnded):
    """A run's live status (``GET /workflows/runs/{run_id}/live_status``)."""

    STATUS_KEY: ClassVar[str] = "overall_status"

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
    def reason(self) -> str | None:
        """The answer's own ``error_message`` (or else ``status_reason``), without the blocks' errors."""
        return opt_str(self.raw, "error_message") or opt_str(self.raw, "status_reason")

    @property
    def error_message(self) -> str | None:
        """Why the run failed, from the failed block(s) or the answer's own ``error_message``."""
        messages = [f"{b.block_name}: {b.error_message}" for b in self.blocks if b.error_message]
        if self.reason:
            messages.insert(0, self.reason)
        return "; ".join(messages) or None

    @classmethod
    def from_api(cls, data: object) -> LiveStatus:
        obj = mapping(data, "a live status")
        blocks = tuple(BlockProgress.from_api(b) for b in as_list(obj.get("blocks") or [], "blocks"))
        return cls(
            run_id=require_text(obj, "run_id"),
            workflow_id=require_text(obj, "workflow_id"),
            status=RunStatus.parse(require_text(obj, "overall_status")),
            blocks=blocks,
            progress_percentage=opt_float(obj, "overall_progress_percentage"),
            raw=dict(obj),
            **_run_details(obj),
        )

    def to_json(self) -> dict[str, Any]:
        """This status as strict JSON: the field names of this class (``status`` is the enum's value,
        ``unknown`` for a status this provider does not know), ``reported_status`` as the API spelled it,
        and ``error_message``, the answer's own reason (:attr:`reason`)."""
        return {
            "run_id": self.run_id,
            "workflow_id": self.workflow_id,
            "status": self.status.value,
            "last_updated": _iso(self.last_updated),
            "current_block": self.current_block,
            "current_block_sequence": self.current_block_sequence,
            "total_blocks": self.total_blocks,
            "completed_blocks": self.completed_blocks,
            "started_at": _iso(self.started_at),
            "completed_at": _iso(self.completed_at) or _unparsed(self.raw.get("completed_at")),
            "blocks": [b.to_json() for b in self.blocks],
            "progress_percentage": self.progress_percentage,
            "estimation_blocked_by": self.estimation_blocked_by,
            "reported_status": self.reported_status,
            "error_message": self.reason,
        }

    @classmethod
    def from_json(cls, data: object) -> LiveStatus:
        """Read :meth:`to_json`'s form back, or the one earlier versions put in trigger events.

        Tolerant: a missing or mistyped field reads as its default (an id as ``""``), so an event
        written by another version of the provider still resumes its task. Raises
        :class:`~airflow_provider_sixtyfour.protocol.fields.MalformedAnswer` only when ``data`` is not
        an object.
        """
        obj = mapping(data, "a live status's JSON form")
        status = RunStatus.parse(obj.get("status"))
        raw: dict[str, Any] = {"overall_status": opt_str(obj, "reported_status") or status.value}
        for key in ("completed_at", "error_message"):
            if opt_str(obj, key):
                raw[key] = opt_str(obj, key)
        blocks = obj.get("blocks")
        return cls(
            run_id=opt_str(obj, "run_id") or "",
            workflow_id=opt_str(obj, "workflow_id") or "",
            status=status,
            blocks=tuple(BlockProgress.from_json(b) for b in blocks if isinstance(b, Mapping))
            if isinstance(blocks, list)
            else (),
            progress_percentage=opt_float(obj, "progress_percentage"),
            raw=raw,
            **_run_details(obj),
        )
