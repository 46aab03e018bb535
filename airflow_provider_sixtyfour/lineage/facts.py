"""What a Sixtyfour task knows about its run, for lineage; pure, no I/O, no OpenLineage import.

The operators fill a :class:`LineageFacts` as they go (the run's typed live status, the files
they landed, why a run failed) and the facet builders read it. Everything here came from the API, so
every number is checked: a count that is not a whole number >= 0, or credits that are not a finite
number >= 0, are left out rather than reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_sixtyfour.protocol.statuses import BlockStatus

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord, Workflow

#: Keys of a run record's ``metrics`` that may hold these facts (the API does not document them).
ROWS_IN_KEYS = ("rows_in", "input_rows", "input_row_count")
ROWS_OUT_KEYS = ("rows_out", "output_rows", "output_row_count")
CREDITS_KEYS = ("credits_used", "credits", "credit_cost", "total_credits")

#: The longest failure reason or description carried into an event.
MAX_TEXT = 4000


@dataclass
class LineageFacts:
    """The facts one task instance gathered about its Sixtyfour run (all optional until known)."""

    job_id: str | None = None
    workflow_id: str | None = None
    workflow_name: str | None = None
    workflow_description: str | None = None
    status: str | None = None
    run_url: str | None = None
    completed_blocks: int | None = None
    total_blocks: int | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    credits_used: float | None = None
    failure_reason: str | None = None
    landed: list[dict[str, Any]] = field(default_factory=list)

    def saw_run(
        self,
        run: LiveStatus | None = None,
        *,
        job_id: str | None = None,
        workflow_id: str | None = None,
        run_url: str | None = None,
        output_rows: object = None,
    ) -> None:
        """A run's live status (typed), and what the task knows beside it: the job id it started or was
        given, the workflow, the run's page, and the rows of its final output (the run operator's summary)."""
        self.job_id = _text(job_id) or (_text(run.job_id) if run is not None else None) or self.job_id
        self.workflow_id = _text(workflow_id) or self.workflow_id
        self.run_url = _text(run_url) or self.run_url
        self.rows_out = whole_count(output_rows, self.rows_out)
        if run is None:
            return
        self.workflow_id = _text(run.workflow_id) or self.workflow_id
        self.status = _text(run.reported_status) or self.status
        self.completed_blocks = whole_count(run.completed_blocks, self.completed_blocks)
        self.total_blocks = whole_count(run.total_blocks, self.total_blocks)
        if run.blocks and self.rows_in is None:
            first = min(run.blocks, key=lambda block: block.sequence_number)
            if first.status is BlockStatus.COMPLETED:
                self.rows_in = whole_count(first.processed_count)

    def saw_record(self, record: RunRecord) -> None:
        """The run's record from the run list: its workflow's name and its metrics."""
        self.workflow_id = self.workflow_id or record.workflow_id
        self.workflow_name = self.workflow_name or _text(record.workflow_name)
        self.status = self.status or record.status.value
        metrics = record.metrics if isinstance(record.metrics, Mapping) else {}
        self.rows_in = _first_count(metrics, ROWS_IN_KEYS, self.rows_in)
        self.rows_out = _first_count(metrics, ROWS_OUT_KEYS, self.rows_out)
        for key in CREDITS_KEYS:
            amount = _amount(metrics.get(key))
            if amount is not None:
                self.credits_used = amount
                break
        if record.error_message or record.status_reason:
            self.failure_reason = self.failure_reason or _text(record.error_message or record.status_reason)

    def saw_workflow(self, workflow: Workflow) -> None:
        """The workflow definition: its name and description."""
        self.workflow_name = _text(workflow.name) or self.workflow_name
        self.workflow_description = _text(workflow.description) or self.workflow_description

    def saw_landed(self, records: Sequence[Mapping[str, Any]]) -> None:
        """The JSON records of the files a task landed (``LandedFile.to_dict()``)."""
        self.landed = [dict(r) for r in records if isinstance(r, Mapping) and isinstance(r.get("uri"), str)]
        if self.landed:
            self.job_id = self.job_id or _text(self.landed[0].get("job_id"))

    def run_facet_fields(self) -> dict[str, Any]:
        """The ``sixtyfour`` run facet's own fields (see ``SixtyfourRunFacet.json``)."""
        return {
            "job_id": self.job_id or "",
            "workflow_id": self.workflow_id,
            "workflow_name": self.workflow_name,
            "status": self.status,
            "run_url": self.run_url,
            "completed_blocks": self.completed_blocks,
            "total_blocks": self.total_blocks,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "credits_used": self.credits_used,
        }

    def documentation(self) -> str | None:
        """The job's documentation: the workflow's name, id and description."""
        if not (self.workflow_name or self.workflow_id):
            return None
        title = f"Sixtyfour workflow {self.workflow_name or self.workflow_id}"
        if self.workflow_name and self.workflow_id:
            title += f" ({self.workflow_id})"
        return f"{title}: {self.workflow_description}" if self.workflow_description else title


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:MAX_TEXT] if text else None


def whole_count(value: object, default: int | None = None) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if not math.isfinite(value) or value < 0 or int(value) != value:
        return default
    return int(value)


def _first_count(metrics: Mapping[str, Any], keys: Sequence[str], default: int | None) -> int | None:
    for key in keys:
        value = whole_count(metrics.get(key))
        if value is not None:
            return value
    return default


def _amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and value >= 0 else None
