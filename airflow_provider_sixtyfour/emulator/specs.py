"""Workflow definitions the emulator serves, and the built-in demo workflows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_sixtyfour.emulator.known_keys import check_known_keys

#: Block names that read a run's input rather than enrich it.
SOURCE_BLOCKS = frozenset({"webhook", "read_csv"})
OUTCOMES = ("completed", "failed")


@dataclass(frozen=True)
class OutgoingWebhook:
    """A workflow's final ``outgoing_webhook`` block: where the emulator POSTs a signed delivery when a run ends.

    :param url: the receiver's ``http://`` or ``https://`` URL.
    """

    url: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.url) if isinstance(self.url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("outgoing_webhook.url must be an http:// or https:// URL of the receiver")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OutgoingWebhook:
        """Read ``{"url": ...}``; unknown keys are an error naming the known ones."""
        if not isinstance(data, Mapping):
            raise ValueError('outgoing_webhook must be an object such as {"url": "https://..."}')
        check_known_keys(data, (f.name for f in fields(cls)), "outgoing_webhook")
        if "url" not in data:
            raise ValueError("outgoing_webhook needs a url (the receiver's address)")
        return cls(**dict(data))


@dataclass(frozen=True)
class WorkflowSpec:
    """One workflow of the emulated organisation, and how its runs behave.

    :param workflow_id: the id clients pass as ``workflow_id``.
    :param first_block: ``"webhook"`` (runs take ``webhook_payload`` rows) or ``"read_csv"`` (runs need
        ``specs_override.resource_handle_id`` from ``POST /storage/csv/upload``); any other name makes a
        workflow that takes neither.
    :param blocks: every block's ``block_name`` in execution order, starting with ``first_block``;
        default ``(first_block, "enrich_lead", "find_email")``. Each block writes one result file.
    :param duration_seconds: wall-clock seconds from the run's start to its end (fractions allowed),
        split evenly across the blocks, then multiplied by the server's ``time_scale``.
    :param queue_seconds: seconds a run stays ``queued`` before its first block starts.
    :param rows_out: rows in each result file; default the number of input rows (webhook rows or CSV
        rows; 10 synthetic leads when the run had no input).
    :param outcome: ``"completed"`` or ``"failed"``.
    :param error_message: the failing block's ``error_message`` when ``outcome`` is ``"failed"``.
    :param fail_block: the ``sequence_number`` (1-based) of the block that fails; default the last.
    :param result_bytes: exact size in bytes of every CSV result file, reached by appending synthetic
        padding rows (GBs are fine: files are generated as a stream). ``None`` serves the natural rows only.
    :param credit_cost: credits one run costs; a run whose cost exceeds the organisation's balance
        answers 402.
    :param allow_save_json: when False, ``save_json=true`` answers 403 (feature not enabled).
    :param name: the workflow's display name; default derived from the id.
    :param description: the workflow's description.
    :param outgoing_webhook: the workflow ends with an ``outgoing_webhook`` block: when a run ends the
        emulator POSTs one signed delivery there (see ``emulator.deliveries``). A mapping is read with
        :meth:`OutgoingWebhook.from_dict`.
    """

    workflow_id: str
    first_block: str = "webhook"
    blocks: tuple[str, ...] | None = None
    duration_seconds: float = 3.0
    queue_seconds: float = 0.2
    rows_out: int | None = None
    outcome: str = "completed"
    error_message: str = "Enrichment provider returned an error for this batch"
    fail_block: int | None = None
    result_bytes: int | None = None
    credit_cost: float = 1.0
    allow_save_json: bool = True
    name: str | None = None
    description: str | None = None
    outgoing_webhook: OutgoingWebhook | None = None

    def __post_init__(self) -> None:
        if isinstance(self.outgoing_webhook, Mapping):
            object.__setattr__(self, "outgoing_webhook", OutgoingWebhook.from_dict(self.outgoing_webhook))
        if not isinstance(self.workflow_id, str) or not self.workflow_id.strip():
            raise ValueError("WorkflowSpec.workflow_id must be a non-empty string")
        blocks = tuple(self.blocks) if self.blocks is not None else (self.first_block, "enrich_lead", "find_email")
        if not blocks or blocks[0] != self.first_block:
            raise ValueError(
                f"WorkflowSpec {self.workflow_id!r}: blocks must start with first_block {self.first_block!r}, "
                f"got {list(blocks)}"
            )
        object.__setattr__(self, "blocks", blocks)
        if self.outcome not in OUTCOMES:
            raise ValueError(
                f"WorkflowSpec {self.workflow_id!r}: outcome must be one of {OUTCOMES}, got {self.outcome!r}"
            )
        if self.duration_seconds < 0 or self.queue_seconds < 0:
            raise ValueError(f"WorkflowSpec {self.workflow_id!r}: durations must not be negative")
        if self.rows_out is not None and self.rows_out < 0:
            raise ValueError(f"WorkflowSpec {self.workflow_id!r}: rows_out must be >= 0")
        if self.result_bytes is not None and self.result_bytes < 0:
            raise ValueError(f"WorkflowSpec {self.workflow_id!r}: result_bytes must be >= 0")
        if self.fail_block is not None and not 1 <= self.fail_block <= len(blocks):
            raise ValueError(
                f"WorkflowSpec {self.workflow_id!r}: fail_block must be a sequence number from 1 to {len(blocks)}"
            )

    @property
    def block_names(self) -> tuple[str, ...]:
        """The blocks in execution order (never None after construction)."""
        assert self.blocks is not None
        return self.blocks

    @property
    def display_name(self) -> str:
        """The name shown in answers."""
        return self.name or self.workflow_id.removeprefix("wf-").replace("-", " ").title()

    @property
    def failing_sequence(self) -> int | None:
        """The sequence number of the block that fails, or None for a workflow that completes."""
        if self.outcome != "failed":
            return None
        return self.fail_block or len(self.block_names)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict that :meth:`from_dict` reads back (the config file's shape)."""
        data = asdict(self)
        data["blocks"] = list(self.block_names)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkflowSpec:
        """Build a spec from a config-file mapping; unknown keys are an error naming the known ones."""
        check_known_keys(data, (f.name for f in fields(cls)), "workflow")
        values = dict(data)
        if values.get("blocks") is not None:
            values["blocks"] = tuple(values["blocks"])
        return cls(**values)


#: The demo workflows; those that name no blocks run the default ``webhook``, ``enrich_lead``, ``find_email``.
DEFAULT_WORKFLOWS: tuple[WorkflowSpec, ...] = (
    WorkflowSpec(
        workflow_id="wf-demo-webhook",
        name="Demo: enrich webhook leads",
        description="Takes lead rows as webhook_payload, enriches each lead and finds its email.",
        duration_seconds=3.0,
    ),
    WorkflowSpec(
        workflow_id="wf-demo-read-csv",
        name="Demo: enrich an uploaded CSV of companies",
        description="Reads a CSV uploaded with POST /storage/csv/upload, enriches companies and finds emails.",
        first_block="read_csv",
        blocks=("read_csv", "enrich_company", "find_email"),
        duration_seconds=3.0,
    ),
    WorkflowSpec(
        workflow_id="wf-demo-failing",
        name="Demo: a run that fails",
        description="Fails in its find_email block.",
        duration_seconds=2.0,
        outcome="failed",
        error_message="Email finder quota exhausted for this organization",
    ),
    WorkflowSpec(
        workflow_id="wf-demo-slow",
        name="Demo: a slow run",
        description="Runs for ten minutes: for timeouts and cancellation.",
        duration_seconds=600.0,
    ),
    WorkflowSpec(
        workflow_id="wf-demo-large",
        name="Demo: large result files",
        description="Each result file is 64 MiB of CSV.",
        duration_seconds=2.0,
        result_bytes=64 * 1024 * 1024,
    ),
    WorkflowSpec(
        workflow_id="wf-demo-no-json",
        name="Demo: JSON results not enabled",
        description="save_json=true answers 403 (feature not enabled for the organization).",
        duration_seconds=2.0,
        allow_save_json=False,
    ),
    WorkflowSpec(
        workflow_id="wf-demo-expensive",
        name="Demo: needs more credits than the organization has",
        description="Every run answers 402 (insufficient credit balance).",
        duration_seconds=2.0,
        credit_cost=1e12,
    ),
)
