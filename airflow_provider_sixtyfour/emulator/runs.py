"""One emulated run: a timeline fixed at submission, read at any instant without background work.

A run's state is a pure function of the clock: queued for ``queue_seconds``, then each block runs for
an equal share of ``duration_seconds`` (both scaled by the server's ``time_scale``), ending completed
or failed as the workflow says. A cancel request takes effect ``cancel_delay`` seconds later unless the
run finished first (the race a real client must handle).

Spellings: run lists say ``cancelled``; live status and the cancel answer say ``canceled`` (the vendor
documents the one-l form there), so clients must accept both.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from airflow_provider_sixtyfour.emulator.clock import iso, iso_fixed
from airflow_provider_sixtyfour.emulator.inputs import InputRows
from airflow_provider_sixtyfour.emulator.results import ResultFile
from airflow_provider_sixtyfour.emulator.specs import WorkflowSpec

QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = "queued", "running", "completed", "failed", "cancelled"
LIVE_CANCELLED = "canceled"
TERMINAL = frozenset({COMPLETED, FAILED, CANCELLED})
_FAIL_POINT = 0.5  # a failing block fails halfway through
CANCEL_MESSAGE = "Run cancelled by request"
_DATAFRAME_TYPE = {"enrich_company": "COMPANY", "read_csv": "COMPANY"}


@lru_cache(maxsize=1024)
def block_ids(spec: WorkflowSpec) -> tuple[str, ...]:
    """Stable block ids of a workflow (the same in live status and in the workflow's definition)."""
    return tuple(
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"sixtyfour-emulator/{spec.workflow_id}/{number}"))
        for number in range(1, len(spec.block_names) + 1)
    )


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


@dataclass(frozen=True)
class BlockState:
    """A block's state at one instant."""

    status: str
    started_at: float | None
    completed_at: float | None
    fraction: float


class Run:
    """A workflow run and its fixed timeline.

    :param time_scale: multiplies the spec's durations (0.1 makes runs ten times faster).
    """

    __slots__ = (
        "_block_ids",
        "_live_cache",
        "_record_cache",
        "_record_valid_until",
        "block_len",
        "cancel_at",
        "cancel_requests",
        "credits",
        "end_at",
        "idempotency_key",
        "inputs",
        "job_id",
        "key_label",
        "org_id",
        "queued_at",
        "rows_out",
        "save_json",
        "seq",
        "spec",
        "specs_override",
        "start_at",
        "terminal_status",
    )

    def __init__(
        self,
        *,
        spec: WorkflowSpec,
        org_id: str,
        key_label: str,
        inputs: InputRows,
        now: float,
        time_scale: float = 1.0,
        save_json: bool = False,
        specs_override: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> None:
        self.job_id = str(uuid.uuid4())
        self.spec = spec
        self.org_id = org_id
        self.key_label = key_label
        self.inputs = inputs
        self.save_json = save_json
        self.specs_override = specs_override or {}
        self.idempotency_key = idempotency_key
        self.credits = spec.credit_cost
        self.rows_out = spec.rows_out if spec.rows_out is not None else inputs.count
        self.queued_at = now
        self.start_at = now + spec.queue_seconds * time_scale
        n_blocks = len(spec.block_names)
        self.block_len = spec.duration_seconds * time_scale / n_blocks
        failing = spec.failing_sequence
        if failing is None:
            self.end_at = self.start_at + self.block_len * n_blocks
            self.terminal_status = COMPLETED
        else:
            self.end_at = self.start_at + self.block_len * (failing - 1 + _FAIL_POINT)
            self.terminal_status = FAILED
        self.cancel_at: float | None = None
        self.cancel_requests = 0
        self.seq = 0
        self._block_ids = block_ids(spec)
        self._record_cache: bytes | None = None
        self._record_valid_until = 0.0
        self._live_cache: bytes | None = None

    # ---- state at an instant -------------------------------------------------------------------

    def status(self, now: float) -> str:
        """The run's status at ``now`` (O(1))."""
        if now >= self.end_at:
            return self.terminal_status
        if now < self.start_at:
            return QUEUED
        return RUNNING

    def is_terminal(self, now: float) -> bool:
        return now >= self.end_at

    def request_cancel(self, now: float, delay: float) -> str:
        """Record a cancel request; answer what the API answers (``canceled``, or a terminal status)."""
        self.cancel_requests += 1
        self._record_cache = None
        if self.is_terminal(now):
            status = self.terminal_status
            return LIVE_CANCELLED if status == CANCELLED else status
        effective = now + delay
        if self.cancel_at is None or effective < self.cancel_at:
            self.cancel_at = effective
            if effective < self.end_at:
                self.end_at = effective
                self.terminal_status = CANCELLED
        return LIVE_CANCELLED

    def _interrupted_index(self) -> int:
        """For a run that ended failed or cancelled: the 0-based block it ended in (-1: none started)."""
        if self.terminal_status == FAILED:
            return (self.spec.failing_sequence or 1) - 1
        if self.end_at < self.start_at or self.block_len <= 0:
            return -1
        return min(int((self.end_at - self.start_at) / self.block_len), len(self.spec.block_names) - 1)

    def block_state(self, index: int, now: float) -> BlockState:
        """Block ``index`` (0-based) at ``now``."""
        begin = self.start_at + index * self.block_len
        finish = begin + self.block_len
        if self.is_terminal(now) and self.terminal_status != COMPLETED:
            stopped = self._interrupted_index()
            if index < stopped:
                return BlockState("completed", begin, finish, 1.0)
            if index > stopped:
                return BlockState("pending", None, None, 0.0)
            fraction = (self.end_at - begin) / self.block_len if self.block_len > 0 else _FAIL_POINT
            return BlockState(FAILED, begin, self.end_at, min(1.0, max(0.0, fraction)))
        if now < self.start_at or now < begin:
            return BlockState("pending", None, None, 0.0)
        if now >= finish:
            return BlockState("completed", begin, finish, 1.0)
        return BlockState(RUNNING, begin, None, (now - begin) / self.block_len)

    def completed_blocks(self, now: float) -> int:
        """How many blocks have completed at ``now``."""
        n_blocks = len(self.spec.block_names)
        if self.is_terminal(now):
            return n_blocks if self.terminal_status == COMPLETED else max(0, self._interrupted_index())
        if now < self.start_at or self.block_len <= 0:
            return 0
        return min(n_blocks, int((now - self.start_at) / self.block_len))

    def status_reason(self, now: float) -> str | None:
        if not self.is_terminal(now):
            return None
        if self.terminal_status == COMPLETED:
            return "Completed successfully"
        if self.terminal_status == CANCELLED:
            return CANCEL_MESSAGE
        return f"Block '{self.spec.block_names[self._interrupted_index()]}' failed"

    def error_message(self, now: float) -> str | None:
        if self.is_terminal(now) and self.terminal_status == FAILED:
            return self.spec.error_message
        return None

    # ---- answers --------------------------------------------------------------------------------

    def record(self, now: float) -> dict[str, Any]:
        """The run as ``GET /workflows/runs`` lists it."""
        status = self.status(now)
        terminal = status in TERMINAL
        started = self.start_at if now >= self.start_at and self.start_at <= self.end_at else None
        completed = self.end_at if terminal else None
        updated = completed if terminal else (started or self.queued_at)
        duration_ms = round((self.end_at - (started or self.queued_at)) * 1000) if terminal else None
        done = self.completed_blocks(now)
        return {
            "job_id": self.job_id,
            "workflow_id": self.spec.workflow_id,
            "workflow_name": self.spec.display_name,
            "status": status,
            "step": "deployed",
            "user_id": "user-emulator",
            "created_at": iso_fixed(self.queued_at),
            "updated_at": iso_fixed(updated),
            "queued_at": iso_fixed(self.queued_at),
            "started_at": iso_fixed(started),
            "completed_at": iso_fixed(completed),
            "duration_ms": duration_ms,
            "status_reason": self.status_reason(now),
            "error_message": self.error_message(now),
            "metrics": {
                "rows_in": self.inputs.count,
                "rows_out": self.rows_out if done else 0,
                "blocks_completed": done,
                "credits_used": self.credits,
            },
            "blocks": None,
            "blocks_count": len(self.spec.block_names),
        }

    def _next_change(self, now: float) -> float:
        """When :meth:`record` next changes: the list record only moves at block boundaries."""
        if now >= self.end_at:
            return float("inf")
        if now < self.start_at:
            return min(self.start_at, self.end_at)
        if self.block_len <= 0:
            return self.end_at
        boundary = self.start_at + (int((now - self.start_at) / self.block_len) + 1) * self.block_len
        return min(boundary, self.end_at)

    def record_json(self, now: float) -> bytes:
        """:meth:`record` as JSON, cached until the run's next transition (lists of many runs stay cheap)."""
        if self._record_cache is not None and now < self._record_valid_until:
            return self._record_cache
        data = _dumps(self.record(now))
        self._record_cache = data
        self._record_valid_until = self._next_change(now)
        return data

    def live_status(self, now: float) -> dict[str, Any]:
        """The run as ``GET /workflows/runs/{run_id}/live_status`` shows it."""
        status = self.status(now)
        terminal = status in TERMINAL
        names = self.spec.block_names
        total = self.rows_out
        blocks: list[dict[str, Any]] = []
        current: tuple[str, int] | None = None
        done = 0
        progress_sum = 0.0
        last_updated = self.queued_at
        previous: list[str] = []
        for index, name in enumerate(names):
            state = self.block_state(index, now)
            block_id = self._block_ids[index]
            processed = total if state.status == "completed" else int(total * state.fraction)
            error = None
            if state.status == FAILED:
                error = CANCEL_MESSAGE if self.terminal_status == CANCELLED else self.spec.error_message
            if state.status == RUNNING:
                current = (name, index + 1)
                step = f"Processing rows ({processed}/{total})"
                block_updated = now
            elif state.status == "completed":
                done += 1
                step = "Done"
                block_updated = state.completed_at or now
            elif state.status == FAILED:
                step = "Stopped"
                block_updated = state.completed_at or now
            else:
                step = None
                block_updated = self.queued_at
            last_updated = max(last_updated, block_updated)
            progress = round(100.0 * state.fraction, 2)
            progress_sum += progress
            blocks.append(
                {
                    "block_id": block_id,
                    "block_name": name,
                    "sequence_number": index + 1,
                    "previous_block_ids": list(previous),
                    "status": state.status,
                    "started_at": iso_fixed(state.started_at),
                    "completed_at": iso_fixed(state.completed_at),
                    "progress_percentage": progress,
                    "current_step": step,
                    "processed_count": processed,
                    "total_count": total,
                    "estimated_total_count": None,
                    "last_updated": iso(block_updated) if block_updated == now else iso_fixed(block_updated),
                    "error_message": error,
                    "metrics": {
                        "row_count": processed,
                        "dataframe_type": _DATAFRAME_TYPE.get(name, "LEAD"),
                        "processed_count": processed,
                        "total_count": total,
                    },
                }
            )
            previous = [block_id]
        if terminal:
            last_updated = self.end_at
        overall = 100.0 if status == COMPLETED else round(progress_sum / len(names), 2)
        return {
            "run_id": self.job_id,
            "workflow_id": self.spec.workflow_id,
            "overall_status": LIVE_CANCELLED if status == CANCELLED else status,
            "last_updated": iso(last_updated) if last_updated == now else iso_fixed(last_updated),
            "current_block": current[0] if current else None,
            "current_block_sequence": current[1] if current else None,
            "total_blocks": len(names),
            "completed_blocks": done,
            "started_at": iso_fixed(self.start_at if now >= self.start_at and self.start_at <= self.end_at else None),
            "completed_at": iso_fixed(self.end_at if terminal else None),
            "blocks": blocks,
            "overall_progress_percentage": overall,
            "estimation_blocked_by": "queue" if status == QUEUED else None,
        }

    def live_status_json(self, now: float) -> bytes:
        """:meth:`live_status` as JSON; cached once the run is terminal."""
        if self._live_cache is not None:
            return self._live_cache
        data = _dumps(self.live_status(now))
        if self.is_terminal(now):
            self._live_cache = data
        return data

    def result_files(self, now: float, fmt: str, result_bytes: int | None) -> list[ResultFile]:
        """One file per block that completed, once the run is terminal; none before."""
        if not self.is_terminal(now):
            return []
        names = self.spec.block_names
        return [
            ResultFile(
                job_id=self.job_id,
                block_number=number,
                blocks=names[:number],
                fmt=fmt,
                inputs=self.inputs,
                rows=self.rows_out,
                result_bytes=result_bytes if fmt == "csv" else None,
            )
            for number in range(1, self.completed_blocks(now) + 1)
        ]

    def block_completed_at(self, number: int) -> float:
        """When block ``number`` (1-based) completed."""
        return self.start_at + number * self.block_len
