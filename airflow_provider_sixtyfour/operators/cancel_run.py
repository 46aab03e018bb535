"""``SixtyfourCancelRunOperator``: cancel a Sixtyfour run on purpose, and wait (bounded) until it stops.

Also home of :func:`cancel_within`, the bounded best-effort cancel that ``on_kill`` uses.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, BaseOperator

from airflow_provider_sixtyfour.connection_form import DEFAULT_CONN_ID
from airflow_provider_sixtyfour.deadlines import deadline_from, timeout_seconds
from airflow_provider_sixtyfour.failures import fail_without_retries
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sixtyfour.protocol.models import CancelResult

#: Longest time a best-effort cancel (``on_kill``) may take; Airflow waits a bounded time for on_kill.
CANCEL_BUDGET_SECONDS = 30.0


def cancel_within(conn_id: str, job_id: str, budget: float, log: Any) -> CancelResult | None:
    """Ask Sixtyfour to cancel ``job_id``, giving up after ``budget`` seconds; never raises.

    The request runs in a daemon thread with its own hook (its own connection pool), so it is safe
    from a signal handler that interrupted another request, and its retries cannot outlast the budget.
    """
    answer: list[CancelResult] = []
    failure: list[BaseException] = []

    def work() -> None:
        from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

        try:
            with SixtyfourHook(sixtyfour_conn_id=conn_id) as hook:
                answer.append(hook.cancel_run(job_id))
        except BaseException as err:
            failure.append(err)

    thread = threading.Thread(target=work, name=f"sixtyfour-cancel-{job_id}", daemon=True)
    thread.start()
    thread.join(budget)
    if thread.is_alive():
        log.warning("Cancelling Sixtyfour run %s got no answer within %.0f s; giving up", job_id, budget)
        return None
    if failure:
        log.warning("Cancelling Sixtyfour run %s failed: %s", job_id, failure[0])
        return None
    log.info("Asked Sixtyfour to cancel run %s; it answered %s", job_id, answer[0].status.value)
    return answer[0]


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
        poll_interval: float = 5.0,
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
        self._poll_seconds = timeout_seconds(poll_interval, "poll_interval") or 5.0
        # Created in execute: operators are deep-copied before they run, and an Event cannot be.
        self._stop: threading.Event | None = None

    def execute(self, context: Context) -> str:
        with fail_without_retries():
            return self._execute()

    def _execute(self) -> str:
        from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

        self._stop = threading.Event()
        job_id = str(self.job_id or "").strip()
        hook = SixtyfourHook(sixtyfour_conn_id=self.sixtyfour_conn_id)
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

    def _wait_until_terminal(self, hook: Any, job_id: str, deadline: float | None) -> str:
        stop = self._stop or threading.Event()
        while True:
            live = hook.get_live_status(job_id)
            if live.has_ended:
                if live.status.value != "cancelled":
                    self.log.warning(
                        "Sixtyfour run %s ended %s before the cancel took effect.", job_id, live.reported_status
                    )
                else:
                    self.log.info("Sixtyfour run %s is cancelled.", job_id)
                return live.status.value if live.status.is_terminal else live.reported_status
            if deadline is not None and time.time() >= deadline:
                raise AirflowException(
                    f"Sixtyfour run {job_id} was still {live.status.value} {self._timeout_seconds:.0f} s after "
                    "the cancel request; it may stop later. Check it in the Sixtyfour app, or raise timeout"
                )
            wait = self._poll_seconds if deadline is None else max(0.0, min(self._poll_seconds, deadline - time.time()))
            if stop.wait(wait):
                raise AirflowException(f"Stopped waiting for Sixtyfour run {job_id} to stop: the task was killed")

    def on_kill(self) -> None:
        """Stop waiting (the cancel request was already sent)."""
        if self._stop is not None:
            self._stop.set()
