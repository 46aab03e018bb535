"""``SixtyfourRunWorkflowOperator``: start a Sixtyfour workflow run and wait for it, in a worker or deferred."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator, conf

from airflow_provider_sixtyfour.connection_form import DEFAULT_CONN_ID
from airflow_provider_sixtyfour.deadlines import (
    DEFAULT_POLL_SECONDS,
    deadline_from,
    describe_deadline,
    poll_seconds,
    timeout_seconds,
    wait_budget,
)
from airflow_provider_sixtyfour.failures import fail_without_retries
from airflow_provider_sixtyfour.hooks.cancelling import CANCEL_BUDGET_SECONDS, cancel_within
from airflow_provider_sixtyfour.hooks.lazy import SixtyfourHookMixin
from airflow_provider_sixtyfour.hooks.waiting import RunWaitTimedOut, wait_for_run_end
from airflow_provider_sixtyfour.idempotency import RunClaimer, RunLedger, TaskInstanceIdentity
from airflow_provider_sixtyfour.lineage.mixin import SixtyfourLineageMixin
from airflow_provider_sixtyfour.links.sixtyfour import RUN_URL_XCOM_KEY, SixtyfourRunLink
from airflow_provider_sixtyfour.operators._inputs import (
    RunRequest,
    check_csv_readable,
    check_download_to,
    csv_path,
)
from airflow_provider_sixtyfour.operators._run_end import RunEnding, timeout_failure
from airflow_provider_sixtyfour.operators._summary import run_summary
from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.endpoints import RESOURCE_HANDLE_SPEC_KEY
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.live_status import LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.transfers.announce import DEFAULT_ASSET_ALIAS, land_and_announce, outlets_with_alias
from airflow_provider_sixtyfour.trigger_events import RunEvent

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

#: XCom keys pushed the moment a run starts (``run_url`` is the link's).
JOB_ID_XCOM_KEY = "job_id"
WORKFLOW_ID_XCOM_KEY = "workflow_id"


class SixtyfourRunWorkflowOperator(SixtyfourHookMixin, SixtyfourLineageMixin, BaseOperator):
    """Run a Sixtyfour workflow on rows or a CSV, wait for it, and return a summary of what it did.

    The run's ``job_id``, ``workflow_id`` and ``run_url`` (its page in the Sixtyfour app, shown as the
    "Sixtyfour run" link) are pushed to XCom the moment the run starts, before any waiting. The return
    value is a JSON-safe summary: ``job_id``, ``workflow_id``, ``status``, ``run_url``, ``started_at``,
    ``completed_at``, ``duration_seconds``, ``progress_percentage``, blocks completed, rows processed and
    ``metrics`` per block, ``result_files`` (name, block and row count of each result file; never a
    download URL) and ``output_rows`` (rows of the final file).

    With the OpenLineage provider installed, each try reports ``input_csv`` as its input, each file
    ``download_to`` landed as an output, and the run itself (see :mod:`airflow_provider_sixtyfour.lineage`).

    A failed run fails the task with the API's reason; a cancelled run fails it too; a run that outlives
    ``timeout`` is cancelled and the task fails saying so. A retry never pays for a second run while the
    first can still be used: it reattaches to the run an earlier try started when that run is queued,
    running or completed, and starts a new one only when it failed or was cancelled (see
    :mod:`airflow_provider_sixtyfour.idempotency`). On Airflow 3.3, a try that a user cleared while it
    was deferred (its trigger's ``on_kill`` cancels the run) is followed by a new run, never reattached
    to the run being cancelled. Input is checked before any paid call.

    :param workflow_id: the workflow to run (templated).
    :param webhook_payload: rows for a workflow whose first block is ``webhook``: a dict, a list of
        dicts (one per row), or an upstream task's output (``XComArg``). Templated; a JSON string is
        parsed.
    :param input_csv: the CSV for a workflow whose first block is ``read_csv``: an ``ObjectStoragePath``
        or a URI such as ``s3://bucket/leads.csv`` (templated). It is uploaded to Sixtyfour and its
        handle passed as ``specs_override["resource_handle_id"]``.
    :param input_csv_conn_id: the Airflow connection that reads ``input_csv`` (e.g. an ``aws`` one).
    :param specs_override: block settings that override the workflow's (templated).
    :param save_json: also keep the results as JSON (``format="json"`` download links).
    :param wait_for_completion: wait until the run ends; False returns as soon as it started.
    :param deferrable: wait in the triggerer instead of holding a worker slot. Defaults to the
        ``[operators] default_deferrable`` setting.
    :param poll_interval: seconds between status polls; Sixtyfour recommends 5 to 10.
    :param timeout: the longest the run may take, in seconds or as a ``timedelta``; None for no limit.
        The deadline is fixed when the task starts and carried into the trigger, so a triggerer restart
        does not extend it. Past it the remote run is cancelled and the task fails.
    :param cancel_on_kill: cancel the remote run when the task is killed (``on_kill``) or, on Airflow
        3.3+, when a deferred task is killed.
    :param reattach: on a retry, reuse the run an earlier try started (unless it failed or was
        cancelled). False always starts a new run.
    :param download_to: when set, land the completed run's result files in this folder in the same
        task (a URI such as ``"s3://bucket/sixtyfour/{{ ds }}/"`` or an ``ObjectStoragePath``), exactly as
        :class:`~airflow_provider_sixtyfour.operators.download_results.SixtyfourDownloadResultsOperator`
        does: streamed, verified, atomic, with one Asset event per file on the alias
        ``"sixtyfour-results"``. The summary then has ``landed_files``. Templated.
    :param download_conn_id: the Airflow connection of ``download_to``'s store (templated).
    :param download_files: which result files ``download_to`` lands: ``"all"``, ``"final"``, a name or
        glob pattern, or a list of them (templated).
    :param download_format: the format ``download_to`` lands: ``"csv"`` (default), or ``"json"`` or
        ``"ndjson"`` (one JSON object a line), which need ``save_json=True`` (templated).
    :param download_overwrite: replace files that already exist under ``download_to``; when False an
        existing target fails the task, naming it.
    :param sixtyfour_conn_id: the Airflow connection of the Sixtyfour API (templated).
    """

    template_fields: Sequence[str] = (
        "workflow_id",
        "webhook_payload",
        "input_csv",
        "input_csv_conn_id",
        "specs_override",
        "download_to",
        "download_conn_id",
        "download_files",
        "download_format",
        "sixtyfour_conn_id",
    )
    template_fields_renderers = {"webhook_payload": "json", "specs_override": "json"}
    operator_extra_links = (SixtyfourRunLink(),)
    ui_color = "#e6f0ff"
    lineage_input_field = "input_csv"
    lineage_storage_conn_field = "download_conn_id"

    def __init__(
        self,
        *,
        workflow_id: str,
        webhook_payload: Any = None,
        input_csv: Any = None,
        input_csv_conn_id: str | None = None,
        specs_override: dict[str, Any] | None = None,
        save_json: bool = False,
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = DEFAULT_POLL_SECONDS,
        timeout: float | timedelta | None = None,
        cancel_on_kill: bool = True,
        reattach: bool = True,
        download_to: Any = None,
        download_conn_id: str | None = None,
        download_files: str | Sequence[str] = "all",
        download_overwrite: bool = False,
        download_format: str = "csv",
        sixtyfour_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        if download_to is not None:
            kwargs["outlets"] = outlets_with_alias(kwargs.get("outlets"), DEFAULT_ASSET_ALIAS)
        super().__init__(**kwargs)
        self.workflow_id = workflow_id
        self.webhook_payload = webhook_payload
        self.input_csv = input_csv
        self.input_csv_conn_id = input_csv_conn_id
        self.specs_override = specs_override
        self.save_json = save_json
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.cancel_on_kill = cancel_on_kill
        self.reattach = reattach
        self.download_to = download_to
        self.download_conn_id = download_conn_id
        self.download_files = download_files
        self.download_overwrite = validate.flag(download_overwrite, "download_overwrite")
        self.download_format = download_format
        if download_to is not None and isinstance(download_format, str) and "{{" not in download_format:
            validate.download_format(download_format, bool(save_json))
        self.sixtyfour_conn_id = sixtyfour_conn_id
        self._poll_seconds = poll_seconds(poll_interval)
        self._timeout_seconds = timeout_seconds(timeout)
        wait_budget(self._timeout_seconds, self.execution_timeout)  # its range, while the DAG is parsed
        self._job_id: str | None = None
        self._finished = False
        self._cancel_sent = False
        # Created in execute: operators are deep-copied before they run, and an Event cannot be.
        self._stop: threading.Event | None = None

    # -- execute ------------------------------------------------------------------------------------

    def execute(self, context: Context) -> Any:
        with fail_without_retries():
            return self._execute(context)

    def _execute(self, context: Context) -> Any:
        self._stop = threading.Event()
        deadline = deadline_from(wait_budget(self._timeout_seconds, self.execution_timeout))
        hook = self.hook
        # on_kill ends the hook's retry and rate-limit waits, not only the poll loop's.
        hook.bound_waits(self._stop)
        request = self._checked_request(hook)
        claimer = RunClaimer(
            hook,
            TaskInstanceIdentity.from_context(context),
            RunLedger.from_context(context) if self.reattach else None,
            reattach=self.reattach,
            workflow_id=request.workflow_id,
            log=self.log,
        )
        owned = claimer.claim(request)
        self._job_id = owned.job_id
        run_url = self._announce(context, hook, owned.job_id, request.workflow_id)

        if not self.wait_for_completion:
            self.log.info("Not waiting for Sixtyfour run %s (wait_for_completion=False).", owned.job_id)
            return run_summary(
                owned.live, status=owned.status, job_id=owned.job_id, workflow_id=request.workflow_id, run_url=run_url
            )
        if owned.live is not None and owned.live.has_ended:
            return self._finish(context, hook, owned.job_id, owned.live, request.workflow_id)
        if self.deferrable:
            if claimer.ledger is not None and self.cancel_on_kill:
                # A later try that finds this mark knows a user ended this one while it waited.
                claimer.ledger.mark_deferred(owned.job_id, claimer.identity.try_number)
            self._defer(owned.job_id, deadline)
        live = self._wait(hook, owned.job_id, deadline)
        return self._finish(context, hook, owned.job_id, live, request.workflow_id)

    def _checked_request(self, hook: SixtyfourHook) -> RunRequest:
        """Check every input, and the workflow it is meant for, before any paid call."""
        try:
            workflow_id = validate.workflow_id(self.workflow_id)
            payload = validate.task_payload(self.webhook_payload)
            specs = validate.specs_override(self.specs_override)
            has_csv = self.input_csv is not None and self.input_csv != ""
            if payload is not None and has_csv:
                raise SixtyfourInputError(
                    "both webhook_payload and input_csv were given: pass one of them, as the workflow's first "
                    "block takes (webhook rows or a read_csv upload)"
                )
            if has_csv and specs and specs.get(RESOURCE_HANDLE_SPEC_KEY):
                raise SixtyfourInputError(
                    f"both input_csv and specs_override[{RESOURCE_HANDLE_SPEC_KEY!r}] were given: pass one of them"
                )
            if self.download_to is not None:
                check_download_to(self.download_to, self.download_format, self.download_files, bool(self.save_json))
            csv = csv_path(self.input_csv, self.input_csv_conn_id or None) if has_csv else None
            request = RunRequest(hook, workflow_id, payload, specs, csv, bool(self.save_json))
            request.check_against(request.workflow())
            if csv is not None:
                check_csv_readable(csv, self.input_csv_conn_id or None)
        except SixtyfourInputError as err:
            raise AirflowFailException(f"Invalid input for the Sixtyfour run: {err}") from err
        return request

    def _announce(self, context: Context, hook: SixtyfourHook, job_id: str, workflow_id: str) -> str:
        """Push the run's id and page to XCom before any waiting, so links and retries work mid-run."""
        run_url = hook.run_url(job_id)
        ti = context["ti"]
        ti.xcom_push(key=JOB_ID_XCOM_KEY, value=job_id)
        ti.xcom_push(key=WORKFLOW_ID_XCOM_KEY, value=workflow_id)
        ti.xcom_push(key=RUN_URL_XCOM_KEY, value=run_url)
        SixtyfourRunLink.persist(context, run_url)
        self.lineage_facts.saw_run(job_id=job_id, workflow_id=workflow_id, run_url=run_url)
        self.log.info("Sixtyfour run %s of workflow %s: %s", job_id, workflow_id, run_url)
        return run_url

    # -- waiting ------------------------------------------------------------------------------------

    def _defer(self, job_id: str, deadline: float | None) -> None:
        from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

        self.log.info(
            "Deferring: the triggerer waits for Sixtyfour run %s%s.",
            job_id,
            "" if deadline is None else f" until {describe_deadline(deadline)} at most",
        )
        self.defer(
            trigger=SixtyfourWorkflowRunTrigger(
                job_id=job_id,
                sixtyfour_conn_id=self.sixtyfour_conn_id,
                poll_interval=self._poll_seconds,
                deadline=deadline,
                cancel_on_kill=self.cancel_on_kill,
            ),
            method_name="execute_complete",
        )

    def _wait(self, hook: SixtyfourHook, job_id: str, deadline: float | None) -> LiveStatus:
        """Wait in this worker until the run ends (:func:`~.wait_for_run_end`); cancel and fail at the deadline."""
        try:
            live = wait_for_run_end(
                hook,
                job_id,
                poll_seconds=self._poll_seconds,
                deadline=deadline,
                stop=self._stop or threading.Event(),
                log=self.log,
            )
        except RunWaitTimedOut as late:
            last = None if late.last is None else late.last.reported_status
            self._fail_on_timeout(job_id, deadline, last, late.detail)
            raise  # not reached: _fail_on_timeout raises
        self._finished = True
        return live

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> Any:
        """Resume after the trigger's event: success, failed, cancelled, timeout or error."""
        with fail_without_retries():
            return self._execute_complete(context, event)

    def _execute_complete(self, context: Context, payload: Mapping[str, Any] | None) -> Any:
        if not isinstance(payload, Mapping):
            raise AirflowException(f"The Sixtyfour trigger ended without an event (got {payload!r})")
        event = RunEvent.from_json(payload)
        self._job_id = job_id = event.job_id
        ledger = RunLedger.from_context(context) if self.reattach else None
        if ledger is not None and job_id:
            ledger.mark_resumed(job_id)
        run = event.run
        self.lineage_facts.saw_run(run, job_id=job_id)
        if event.status in ("success", "failed", "cancelled"):
            hook = self.hook
            run = run or hook.get_live_status(job_id)
            return self._finish(context, hook, job_id, run, str(self.workflow_id), event.message)
        if event.status == "timeout":
            self._fail_on_timeout(job_id, None, None if run is None else run.reported_status, event.message)
        raise AirflowException(f"Waiting for Sixtyfour run {job_id} failed: {event.message or event.status}")

    # -- the end ------------------------------------------------------------------------------------

    def _finish(
        self, context: Context, hook: SixtyfourHook, job_id: str, run: LiveStatus, workflow_id: str, message: str = ""
    ) -> Any:
        """The summary of a completed run (see :mod:`._run_end`); an exception for any other end."""
        self._finished = True
        workflow_id = run.workflow_id or workflow_id
        run_url = hook.run_url(job_id)
        self.lineage_facts.saw_run(run, job_id=job_id, run_url=run_url)
        ending = RunEnding(hook, job_id, workflow_id, run_url, self.log)
        if run.status is not RunStatus.COMPLETED:
            raise ending.failure(run, message, self.lineage_facts)
        summary = ending.summary(run)
        self.lineage_facts.saw_run(output_rows=summary.get("output_rows"))
        return self._after_completion(context, hook, summary)

    def _after_completion(self, context: Context, hook: SixtyfourHook, summary: dict[str, Any]) -> Any:
        """The one place for steps after a completed run: landing its results when ``download_to`` is set."""
        if self.download_to is None:
            return summary
        summary["landed_files"] = land_and_announce(
            self,
            context,
            hook,
            summary["job_id"],
            self.download_to,
            destination_conn_id=self.download_conn_id or None,
            files=self.download_files,
            format=self.download_format,
            overwrite=self.download_overwrite,
            abort=self._stop,
            asset_alias=DEFAULT_ASSET_ALIAS,
        )
        return summary

    def _fail_on_timeout(self, job_id: str, deadline: float | None, last_status: str | None, message: str = "") -> None:
        """Cancel the remote run, then fail the task saying it timed out."""
        answer = cancel_within(self.sixtyfour_conn_id, job_id, CANCEL_BUDGET_SECONDS, self.log)
        self._cancel_sent = True
        raise timeout_failure(
            job_id,
            timeout_seconds=self._timeout_seconds,
            deadline=deadline,
            last_status=last_status,
            detail=message,
            cancel_answer=answer,
        )

    def on_kill(self) -> None:
        """Cancel the remote run (best effort, at most 30 s); calling it again does nothing more."""
        if self._stop is not None:
            self._stop.set()
        job_id = self._job_id
        if not job_id or self._finished:
            return
        if not self.cancel_on_kill:
            self.log.info("Task killed; leaving Sixtyfour run %s running (cancel_on_kill=False)", job_id)
            return
        if self._cancel_sent:
            return
        self._cancel_sent = True
        self.log.info("Task killed; cancelling Sixtyfour run %s", job_id)
        cancel_within(self.sixtyfour_conn_id, job_id, CANCEL_BUDGET_SECONDS, self.log)
