"""``SixtyfourWorkflowRunSensor``: waits for a Sixtyfour run started elsewhere (poke, reschedule or deferrable)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowException,
    AirflowFailException,
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_sixtyfour.connection_form import DEFAULT_CONN_ID
from airflow_provider_sixtyfour.deadlines import MAX_WAIT_SECONDS, deadline_from, timeout_seconds
from airflow_provider_sixtyfour.failures import fail_without_retries
from airflow_provider_sixtyfour.hooks.lazy import SixtyfourHookMixin
from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.describe import ProgressTracker, describe_end
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, is_transient
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.trigger_events import RunEvent

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger


#: Extra time given to the triggerer's own deferral timeout, so the trigger's ``timeout`` event,
#: which carries the run's last status, normally comes first.
DEFER_TIMEOUT_GRACE = timedelta(minutes=5)


class SixtyfourWorkflowRunSensor(SixtyfourHookMixin, BaseSensorOperator):
    """Waits until a Sixtyfour run, started elsewhere, has ended; succeeds only if it completed.

    A failed or cancelled run fails the sensor with the API's ``error_message``/``status_reason``
    (or skips it with ``soft_fail=True``, as does a timeout), and so does a run that ended
    (``completed_at`` set) in a status this provider does not know, naming it. The sensor never cancels the run: it
    only watches it. Transient API errors (429, 5xx, network) count as "not yet" and are retried at
    the next poke; permanent ones (401/403/404, a malformed job id) fail the sensor at once.

    Returns (and pushes as XCom ``return_value``) the run's final live status as plain JSON.

    :param job_id: the run to watch (templated), e.g. ``"{{ ti.xcom_pull('run', key='job_id') }}"``.
    :param sixtyfour_conn_id: the Airflow connection of the Sixtyfour API (templated).
    :param poke_interval: seconds between status checks (Sixtyfour recommends 5 to 10).
    :param deferrable: wait in the triggerer instead of a worker slot (defaults to
        ``[operators] default_deferrable``). The sensor pokes once first, so a run that has already
        ended costs no deferral. The sensor's ``timeout`` becomes an absolute deadline when it
        defers, so a triggerer restart does not extend it.
    :param kwargs: the usual sensor arguments: ``mode`` (``poke`` or ``reschedule``), ``timeout``,
        ``soft_fail``, ``exponential_backoff``...
    """

    template_fields = ("job_id", "sixtyfour_conn_id")
    ui_color = "#e8f1ff"

    def __init__(
        self,
        *,
        job_id: str,
        sixtyfour_conn_id: str = DEFAULT_CONN_ID,
        poke_interval: float = 10.0,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, **kwargs)
        self.job_id = job_id
        self.sixtyfour_conn_id = sixtyfour_conn_id
        self.deferrable = deferrable
        # Created in execute: operators are deep-copied before they run, and an Event cannot be.
        self._stop: threading.Event | None = None

    @cached_property
    def _progress(self) -> ProgressTracker:
        return ProgressTracker()

    def _check_job_id(self) -> None:
        validate.job_id(self.job_id)

    def execute(self, context: Context) -> Any:
        """Poke (or reschedule) as any sensor, or defer to :class:`SixtyfourWorkflowRunTrigger`.

        A wrong ``job_id``, a ``timeout`` or ``poke_interval`` out of range (deferrable: at most 366
        days), a key the API refuses or a run it does not know fails the task without Airflow's
        retries (:func:`~airflow_provider_sixtyfour.protocol.errors.is_final`).
        """
        with fail_without_retries():
            self._check_job_id()
            deferral = self._trigger() if self.deferrable else None
        if deferral is None:
            # No retry or rate-limit wait of the hook outlasts the sensor's timeout or on_kill.
            self._stop = threading.Event()
            self.hook.bound_waits(self._stop, deadline_from(timeout_seconds(self.timeout)))
            return super().execute(context)  # poke raises final errors itself, so that soft_fail applies
        trigger, timeout = deferral
        done = self._poke_before_deferring(context, trigger.deadline)
        if done is not None:
            return done.xcom_value
        self.defer(trigger=trigger, method_name="execute_complete", timeout=timeout + DEFER_TIMEOUT_GRACE)

    def _poke_before_deferring(self, context: Context, deadline: float | None) -> PokeReturnValue | None:
        """One poke, as dbt Cloud's sensor does: a run that has already ended costs no deferral.

        Its failures are the sensor's (``soft_fail`` skips them); a transient error means "defer".
        """
        self._stop = threading.Event()
        self.hook.bound_waits(self._stop, deadline)
        try:
            done = self.poke(context)
        except AirflowFailException as err:
            if self.soft_fail or getattr(self, "never_fail", False):
                raise AirflowSkipException(f"Skipping due to soft_fail: {err}") from err
            raise
        finally:
            self.hook.bound_waits()
        return done if isinstance(done, PokeReturnValue) else None

    def _trigger(self) -> tuple[SixtyfourWorkflowRunTrigger, timedelta]:
        """The trigger to defer to and the sensor's timeout; every value checked before deferring."""
        from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

        timeout = timeout_seconds(self.timeout)
        if timeout is None:  # BaseSensorOperator always sets one; None here would mean "no limit"
            timeout = MAX_WAIT_SECONDS
        poke = validate.interval(max(float(self.poke_interval), 1.0), "poke_interval")
        trigger = SixtyfourWorkflowRunTrigger(
            job_id=self.job_id,
            sixtyfour_conn_id=self.sixtyfour_conn_id,
            poll_interval=poke,
            deadline=deadline_from(timeout),
            cancel_on_kill=False,
        )
        return trigger, timedelta(seconds=timeout)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """One status check: done when completed; raises when failed or cancelled."""
        try:
            run = self.hook.get_live_status(self.job_id)
        except SixtyfourError as err:
            if self._stop is not None and self._stop.is_set():
                raise AirflowException(f"Stopped waiting for Sixtyfour run {self.job_id}: the task was killed") from err
            if is_transient(err):
                self.log.warning("Could not read Sixtyfour run %s this time (%s); trying again", self.job_id, err)
                return False
            # Raised from poke so that the sensor's soft_fail applies to it.
            with fail_without_retries():
                raise
        if run.status is RunStatus.COMPLETED:
            self.log.info("%s", describe_end(run))
            return PokeReturnValue(is_done=True, xcom_value=run.to_json())
        if run.has_ended:  # failed, cancelled, or ended in a status this provider does not know
            raise AirflowFailException(describe_end(run))
        line = self._progress.changed(run)
        if line:
            self.log.info("%s", line)
        return False

    def on_kill(self) -> None:
        """End the hook's current wait (a retry or a rate limit's) so that the task stops at once."""
        if self._stop is not None:
            self._stop.set()

    def execute_complete(self, context: Context, event: Mapping[str, Any] | None = None) -> Any:
        """Resume after the trigger's event (a :class:`~.RunEvent`): the run's live status on success,
        else the matching failure, in the words the trigger gave (:func:`~.describe_end`)."""
        if not isinstance(event, Mapping):
            raise AirflowException(f"The Sixtyfour trigger ended without an event (got {event!r})")
        ended = RunEvent.from_json(event)
        message = ended.message or f"Waiting for Sixtyfour run {self.job_id} ended: {ended.status}"
        if ended.status == "success":
            self.log.info("%s", message)
            return ended.run.to_json() if ended.run is not None else None
        if ended.status == "timeout":
            raise AirflowSensorTimeout(message)
        if ended.status in ("failed", "cancelled"):
            raise AirflowFailException(message)
        raise SixtyfourError(message)
