"""The emulated organisations: workflows, runs (with an index of active runs), uploads, idempotency keys.

Everything here runs on the server's event loop thread; nothing blocks.
"""

from __future__ import annotations

import bisect
import heapq
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_provider_sixtyfour.emulator.inputs import CsvFileInput, InputRows
from airflow_provider_sixtyfour.emulator.runs import COMPLETED, RUNNING, TERMINAL, Run
from airflow_provider_sixtyfour.emulator.specs import WorkflowSpec


@dataclass(frozen=True)
class UploadedCsv:
    """A CSV uploaded with ``POST /storage/csv/upload``, kept on disk until the server stops."""

    handle_id: str
    org_id: str
    filename: str
    size: int
    inputs: CsvFileInput

    @property
    def path(self) -> Path:
        return self.inputs.path


@dataclass
class Org:
    """One organisation's runs and uploads.

    ``runs`` is in submission order (so newest ``queued_at`` first is a reverse walk); ``active`` holds
    the runs not yet terminal, pruned lazily through a heap of their end times into ``finished`` (kept
    in submission order), so a filtered list walks only the runs that can match, even among thousands.
    """

    org_id: str
    runs: list[Run] = field(default_factory=list)
    active: dict[str, Run] = field(default_factory=dict)
    finished: list[Run] = field(default_factory=list)
    _ends: list[tuple[float, str]] = field(default_factory=list)
    uploads: dict[str, UploadedCsv] = field(default_factory=dict)
    credit_balance: float | None = None

    def add(self, run: Run) -> None:
        self.runs.append(run)
        self.active[run.job_id] = run
        heapq.heappush(self._ends, (run.end_at, run.job_id))

    def reschedule(self, run: Run) -> None:
        """The run's end moved earlier (a cancel): index the new end time."""
        if run.job_id in self.active:
            heapq.heappush(self._ends, (run.end_at, run.job_id))

    def prune(self, now: float) -> None:
        ends = self._ends
        while ends and ends[0][0] <= now:
            _, job_id = heapq.heappop(ends)
            run = self.active.get(job_id)
            if run is not None and run.is_terminal(now):
                del self.active[job_id]
                bisect.insort(self.finished, run, key=_seq)

    def select(self, now: float, status: str | None, workflow_id: str | None, limit: int) -> list[Run]:
        """Runs matching the list filters, newest ``queued_at`` first, at most ``limit``."""
        self.prune(now)
        candidates: Iterator[Run]
        if status in ("active", RUNNING):
            candidates = reversed(self.active.values())
        elif status is not None:
            candidates = reversed(self.finished)
        else:
            candidates = reversed(self.runs)
        picked: list[Run] = []
        for run in candidates:
            if workflow_id is not None and run.spec.workflow_id != workflow_id:
                continue
            if status is not None and status != "active":
                current = run.status(now)
                if current != status:
                    continue
            picked.append(run)
            if len(picked) >= limit:
                break
        return picked


def _seq(run: Run) -> int:
    return run.seq


class Store:
    """All organisations, workflows and runs of one emulator.

    :param workflows: the workflows every organisation can run.
    :param time_scale: multiplies every workflow's durations (0.1: runs ten times faster).
    :param cancel_delay: seconds between a cancel request and the run becoming cancelled.
    :param credit_balance: each organisation's starting credits (None: unlimited).
    """

    def __init__(
        self,
        workflows: Mapping[str, WorkflowSpec],
        *,
        time_scale: float = 1.0,
        cancel_delay: float = 0.2,
        credit_balance: float | None = None,
    ) -> None:
        self.workflows: dict[str, WorkflowSpec] = dict(workflows)
        self.time_scale = time_scale
        self.cancel_delay = cancel_delay
        self.default_credit_balance = credit_balance
        self.orgs: dict[str, Org] = {}
        self.runs: dict[str, Run] = {}
        self._seq = 0
        self.workflow_created: dict[str, float] = {}
        self.last_run: dict[str, float] = {}
        # (API key label, Idempotency-Key) -> (request fingerprint, job id)
        self.idempotency: dict[tuple[str, str], tuple[str, str]] = {}

    def org(self, org_id: str) -> Org:
        org = self.orgs.get(org_id)
        if org is None:
            org = self.orgs[org_id] = Org(org_id, credit_balance=self.default_credit_balance)
        return org

    def add_workflow(self, spec: WorkflowSpec, now: float) -> None:
        self.workflows[spec.workflow_id] = spec
        self.workflow_created.setdefault(spec.workflow_id, now)

    def start_run(
        self,
        spec: WorkflowSpec,
        org_id: str,
        key_label: str,
        inputs: InputRows,
        now: float,
        *,
        save_json: bool,
        specs_override: dict[str, Any] | None,
        idempotency_key: str | None,
        fingerprint: str,
    ) -> Run:
        run = Run(
            spec=spec,
            org_id=org_id,
            key_label=key_label,
            inputs=inputs,
            now=now,
            time_scale=self.time_scale,
            save_json=save_json,
            specs_override=specs_override,
            idempotency_key=idempotency_key,
        )
        self._seq += 1
        run.seq = self._seq
        org = self.org(org_id)
        if org.credit_balance is not None:
            org.credit_balance -= spec.credit_cost
        org.add(run)
        self.runs[run.job_id] = run
        self.last_run[spec.workflow_id] = now
        if idempotency_key:
            self.idempotency[(key_label, idempotency_key)] = (fingerprint, run.job_id)
        return run

    def find_run(self, org_id: str, job_id: str) -> Run | None:
        """The run, if it exists and belongs to ``org_id`` (other organisations' runs are not found)."""
        run = self.runs.get(job_id)
        if run is None or run.org_id != org_id:
            return None
        return run

    def cancel(self, run: Run, now: float) -> str:
        answer = run.request_cancel(now, self.cancel_delay)
        self.org(run.org_id).reschedule(run)
        return answer

    def counts(self, now: float) -> dict[str, int]:
        """Runs by status, for the stats route."""
        counts: dict[str, int] = {}
        for run in self.runs.values():
            status = run.status(now)
            counts[status] = counts.get(status, 0) + 1
        return counts

    def snapshot(self, run: Run, now: float) -> dict[str, Any]:
        """Everything about one run, for tests (``EmulatorServer.get_run``)."""
        data = run.record(now)
        data.update(
            {
                "org_id": run.org_id,
                "api_key_label": run.key_label,
                "cancel_requests": run.cancel_requests,
                "cancel_effective_at": run.cancel_at,
                "save_json": run.save_json,
                "specs_override": json.loads(json.dumps(run.specs_override)),
                "idempotency_key": run.idempotency_key,
                "input_rows": run.inputs.count,
                "input_columns": list(run.inputs.columns),
                "rows_out": run.rows_out,
                "terminal": run.status(now) in TERMINAL,
                "succeeded": run.status(now) == COMPLETED,
            }
        )
        return data
