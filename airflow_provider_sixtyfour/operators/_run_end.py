"""How the run operator's task ends once its run has ended or its wait timed out.

A completed run gives the task's summary; any other end (failed, cancelled, a status this provider
does not know) gives the exception that fails the task, worded by
:func:`~airflow_provider_sixtyfour.protocol.describe.describe_end`; a wait past its deadline gives the
timeout's exception, saying what became of the remote run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_sixtyfour.deadlines import describe_deadline
from airflow_provider_sixtyfour.operators._summary import result_files, run_summary
from airflow_provider_sixtyfour.protocol.describe import NO_REASON, describe_end
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.lineage.facts import LineageFacts
    from airflow_provider_sixtyfour.protocol.models import CancelResult, LiveStatus, RunRecord


@dataclass(frozen=True)
class RunEnding:
    """The end of one task's run: the run, its workflow and page, and where to log."""

    hook: SixtyfourHook
    job_id: str
    workflow_id: str
    run_url: str
    log: Any

    def summary(self, run: LiveStatus) -> dict[str, Any]:
        """The summary of a completed run, with its result files when the API lists them."""
        try:
            files = result_files(self.hook.get_download_links(self.job_id))
        except SixtyfourError as err:
            self.log.warning("Could not list the result files of Sixtyfour run %s: %s", self.job_id, err)
            files = None
        summary = run_summary(run, job_id=self.job_id, workflow_id=self.workflow_id, run_url=self.run_url, files=files)
        self.log.info(
            "Sixtyfour run %s completed in %s s; result files: %s",
            self.job_id,
            summary["duration_seconds"],
            ", ".join(f"{f['filename']} ({f['row_count']} rows)" for f in files or []) or "-",
        )
        return summary

    def failure(self, run: LiveStatus, message: str, facts: LineageFacts) -> AirflowException:
        """The exception for a run that ended without completing; nothing is cancelled, as it has stopped.

        :param message: the trigger's description of the end, used only for an event of an earlier
            version whose run does not name the status this provider does not know.
        :param facts: the task's lineage facts, which get a failed run's reason.
        """
        reason = None
        if run.status is RunStatus.FAILED:
            try:
                records = self.hook.list_runs(workflow_id=self.workflow_id, limit=100)
            except SixtyfourError as err:
                self.log.warning("Could not read why Sixtyfour run %s failed: %s", self.job_id, err)
                records = []
            reason = failure_reason(records, self.job_id, run)
            facts.failure_reason = reason or run.error_message or NO_REASON
        if run.status is RunStatus.UNKNOWN and run.reported_status == RunStatus.UNKNOWN.value and message:
            ended = message
        else:
            ended = describe_end(run, reason)
        return AirflowException(f"{ended}. See {self.run_url}")


def failure_reason(records: Sequence[RunRecord], job_id: str, run: LiveStatus) -> str | None:
    """Why a run failed: the run list's ``error_message``/``status_reason`` and the failed blocks' errors."""
    parts: list[str] = []
    for record in records:
        if record.job_id == job_id:
            parts.extend(p for p in (record.error_message, record.status_reason) if p and p not in parts)
    for block in run.blocks:
        if block.error_message:
            text = f"{block.block_name}: {block.error_message}"
            if text not in parts and block.error_message not in parts:
                parts.append(text)
    return "; ".join(parts) or None


def timeout_failure(
    job_id: str,
    *,
    timeout_seconds: float | None,
    deadline: float | None,
    last_status: str | None,
    detail: str,
    cancel_answer: CancelResult | None,
) -> AirflowException:
    """The exception for a wait that passed its deadline, saying what the cancel request got."""
    outcome = (
        f"cancel requested (Sixtyfour answered {cancel_answer.status.value})"
        if cancel_answer is not None
        else "the cancel request failed: cancel it in the Sixtyfour app"
    )
    limit = f"timeout={timeout_seconds:g} s" if timeout_seconds else "its deadline"
    when = f" (deadline {describe_deadline(deadline)})" if deadline is not None else ""
    state = f"; it was still {last_status}" if last_status else ""
    because = f" ({detail})" if detail else ""
    return AirflowException(
        f"Sixtyfour run {job_id} timed out: not finished within {limit}{when}{state}{because}. "
        f"The remote run: {outcome}"
    )
