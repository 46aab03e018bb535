"""``SixtyfourCancelRunOperator``: cancel a Sixtyfour run on purpose, and wait (bounded) until it stops."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_sixtyfour.connection_form import DEFAULT_CONN_ID
from airflow_provider_sixtyfour.deadlines import DEFAULT_POLL_SECONDS, deadline_from, poll_seconds, timeout_seconds
from airflow_provider_sixtyfour.failures import fail_without_retries
from airflow_provider_sixtyfour.hooks.lazy import sync_hook
from airflow_provider_sixtyfour.hooks.waiting import RunWaitTimedOut, wait_for_run_end
from airflow_provider_sixtyfour.protocol.describe import describe_end
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook


class SixtyfourCancelRunOperator(BaseOperator):
    """Cancel a Sixtyfour run and (by default) wait until it has stopped; returns the run's final status.

    Cancelling a run that already finished changes nothing: the task logs it and succeeds with that
    run's status. Cancellation may take effect some time after the request; the wait is bounded by
    ``timeout``.

    :param job_id: the run to cancel (templated), e.g. ``"{{ ti.xcom_pull(task_ids='enrich', key='job_id') }}"``.
    :param wait_for_termination: wait until the run is cancelled (or otherwise finished).
    :param timeout: the longest wait, in seconds or as a ``timedelta``; past it the task fails saying the
        run is still active. With ``wait_for_termination``, it bounds the whole task: no retry or
        rate-limit wait of the API calls goes past it.
    :param poll_interval: seconds between status checks while waiting.
    :param sixtyfour_conn_id: the Airflow connection of the Sixtyfour API.
    """

    template_fields: Sequence[str] = ("job_id",)
    ui_color = "#f7d9d9"

    def __init__(
        self,
        *,
        job_id: str,
        wait_for_termination: bool = True,
        timeout: float | timedelta = 300.0,
        poll_interval: float = DEFAULT_POLL_SECONDS,
        sixtyfour_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.job_id = job_id
        self.wait_for_termination = wait_for_termination
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.sixtyfour_conn_id = sixtyfour_conn_id
        self._timeout_seconds = timeout_seconds(timeout)
        self._poll_seconds = poll_seconds(poll_interval)
        # Created in execute: operators are deep-copied before they run, and an Event cannot be.
        self._stop: threading.Event | None = None

    def execute(self, context: Context) -> str:
        with fail_without_retries():
            return self._execute()

    def _execute(self) -> str:
        self._stop = threading.Event()
        job_id = str(self.job_id or "").strip()
        hook = sync_hook(self.sixtyfour_conn_id)
        # on_kill (and, when waiting, the timeout) ends the hook's retry and rate-limit waits too.
        deadline = deadline_from(self._timeout_seconds) if self.wait_for_termination else None
        hook.bound_waits(self._stop, deadline)
        try:
            live = hook.get_live_status(job_id)
        except SixtyfourInputError as err:
            raise AirflowFailException(f"Invalid input: {err}") from err
        if live.has_ended:
            self.log.info("Sixtyfour run %s already ended %s; nothing to cancel.", job_id, live.reported_status)
            return live.reported_status
        result = hook.cancel_run(job_id)
        self.log.info(
            "Asked Sixtyfour to cancel run %s (was %s); it answered %s.",
            job_id,
            live.status.value,
            result.status.value,
        )
        if not self.wait_for_termination:
            return result.status.value
        return self._wait_until_terminal(hook, job_id, deadline)

    def _wait_until_terminal(self, hook: SixtyfourHook, job_id: str, deadline: float | None) -> str:
        stop = self._stop or threading.Event()
        try:
            live = wait_for_run_end(
                hook, job_id, poll_seconds=self._poll_seconds, deadline=deadline, stop=stop, log=self.log
            )
        except RunWaitTimedOut as late:
            state = late.last.reported_status if late.last is not None else "not stopped"
            detail = f" ({late.detail})" if late.detail else ""
            raise AirflowException(
                f"Sixtyfour run {job_id} was still {state} {self._timeout_seconds:.0f} s after the cancel request"
                f"{detail}; it may stop later. Check it in the Sixtyfour app, or raise timeout"
            ) from None
        if live.status is not RunStatus.CANCELLED:
            self.log.warning("%s, before the cancel took effect.", describe_end(live))
        else:
            self.log.info("Sixtyfour run %s is cancelled.", job_id)
        return live.status.value if live.status.is_terminal else live.reported_status

    def on_kill(self) -> None:
        """Stop waiting (the cancel request was already sent)."""
        if self._stop is not None:
            self._stop.set()
