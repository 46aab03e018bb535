"""``SixtyfourWorkflowRunTrigger``: waits in the triggerer for a Sixtyfour run to end, and says how it ended."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_sixtyfour.connection_form import DEFAULT_CONN_ID
from airflow_provider_sixtyfour.deadlines import DEFAULT_POLL_SECONDS, describe_deadline
from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.describe import ProgressTracker
from airflow_provider_sixtyfour.protocol.models import LiveStatus
from airflow_provider_sixtyfour.trigger_events import RunEvent

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.triggers.poller import Subscription

#: Longest time ``on_kill`` spends cancelling the remote run (Airflow allows it 30 s by default).
ON_KILL_TIMEOUT = 20.0


class SixtyfourWorkflowRunTrigger(BaseTrigger):
    """Waits for a Sixtyfour run to end without holding a worker slot, then yields one event.

    Every trigger of one connection in a triggerer shares one poller (see
    :mod:`airflow_provider_sixtyfour.triggers.poller`): a single ``GET /workflows/runs?status=active``
    per cycle answers for all their runs. Transient errors (429, 5xx, network) are logged and retried
    at the next cycle with backoff; they never end the trigger. The event's payload is plain JSON
    (see :mod:`airflow_provider_sixtyfour.trigger_events`)::

        {"status": "success" | "failed" | "cancelled" | "timeout" | "error",
         "job_id": "...", "message": "...", "run": <LiveStatus.to_json() of the run's last status, or None>}

    A failed or cancelled run's ``message`` carries the API's ``error_message``/``status_reason``. A run
    that ended (``completed_at`` set) in a status this provider does not know, such as ``timeout`` or
    ``expired``, yields ``failed`` with a message naming that status.
    While waiting, each change of progress is logged once (overall %, current block,
    completed/total blocks, rows processed).

    :param job_id: the run to wait for (the ``job_id`` the run operator pushed to XCom).
    :param sixtyfour_conn_id: the Airflow connection of the Sixtyfour API.
    :param poll_interval: seconds between status polls; Sixtyfour recommends 5 to 10.
    :param deadline: absolute time (epoch seconds) after which the trigger yields a ``timeout``
        event, or None to wait for as long as the run lasts. Compute it once, when the task starts,
        so that a triggerer restart (which rebuilds the trigger from these arguments) keeps it.
    :param cancel_on_kill: when a user kills the deferred task (mark failed/success, clear), cancel
        the remote run. Airflow 3.3+ calls :meth:`on_kill` for that; older Airflow never does.
    """

    def __init__(
        self,
        job_id: str,
        sixtyfour_conn_id: str = DEFAULT_CONN_ID,
        poll_interval: float = DEFAULT_POLL_SECONDS,
        deadline: float | None = None,
        cancel_on_kill: bool = True,
    ) -> None:
        super().__init__()
        self.job_id = validate.job_id_given(job_id)
        self.sixtyfour_conn_id = validate.conn_id(sixtyfour_conn_id)
        self.poll_interval = validate.interval(poll_interval)
        self.deadline = validate.deadline(deadline)
        self.cancel_on_kill = bool(cancel_on_kill)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and plain-JSON arguments that rebuild this trigger (never the API key)."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "sixtyfour_conn_id": self.sixtyfour_conn_id,
                "poll_interval": self.poll_interval,
                "deadline": self.deadline,
                "cancel_on_kill": self.cancel_on_kill,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Wait for the run's end (or the deadline) and yield one event."""
        yield TriggerEvent(await self._wait())

    def _timeout_event(self, last: LiveStatus | None) -> dict[str, Any]:
        assert self.deadline is not None
        when = describe_deadline(self.deadline)
        state = f"still {last.reported_status}" if last is not None else "not finished"
        message = f"Sixtyfour run {self.job_id} was {state} at its deadline {when}"
        return RunEvent("timeout", self.job_id, message, last).to_json()

    async def _wait(self) -> dict[str, Any]:
        # The shared poller is imported here, in the triggerer, not when a DAG file imports this module.
        from airflow_provider_sixtyfour.triggers.poller import (
            DeadlineReached,
            Failed,
            Finished,
            Retrying,
            subscribe_run,
        )

        if self.deadline is not None and time.time() >= self.deadline:
            return self._timeout_event(None)
        try:
            subscription = await subscribe_run(self.sixtyfour_conn_id, self.job_id, self.poll_interval)
        except Exception as err:  # no such connection, a connection without key, ...
            return RunEvent("error", self.job_id, f"Could not watch Sixtyfour run {self.job_id}: {err}").to_json()
        self.log.info(
            "Waiting for Sixtyfour run %s (polling every %.1f s%s)",
            self.job_id,
            self.poll_interval,
            "" if self.deadline is None else f", deadline {datetime.fromtimestamp(self.deadline, tz=timezone.utc)}",
        )
        tracker = ProgressTracker()
        last: LiveStatus | None = None
        # One timer for the deadline rather than a timeout on every wait: thousands of triggers
        # share a loop, and each wait_for() would cost an extra task per update.
        timer = self._arm_deadline(subscription)
        try:
            while True:
                update = await subscription.get()
                if isinstance(update, DeadlineReached):
                    if self.deadline is not None and time.time() >= self.deadline:
                        return self._timeout_event(last)
                    timer = self._arm_deadline(subscription)  # the loop's clock ran ahead of the wall clock
                elif isinstance(update, Finished):
                    return RunEvent.ended(update.live).to_json()
                elif isinstance(update, Failed):
                    message = f"Could not watch Sixtyfour run {self.job_id}: {update.error}"
                    return RunEvent("error", self.job_id, message, last).to_json()
                elif isinstance(update, Retrying):
                    self.log.warning(
                        "Status poll of Sixtyfour run %s failed (%s); trying again in %.1f s",
                        self.job_id,
                        update.error,
                        update.retry_in,
                    )
                else:
                    if isinstance(update.record, LiveStatus):
                        last = update.record
                    line = tracker.changed(update.record)
                    if line:
                        self.log.info("%s", line)
        finally:
            if timer is not None:
                timer.cancel()
            subscription.unsubscribe()

    def _arm_deadline(self, subscription: Subscription) -> asyncio.TimerHandle | None:
        if self.deadline is None:
            return None
        from airflow_provider_sixtyfour.triggers.poller import DEADLINE_REACHED

        delay = max(0.0, self.deadline - time.time())
        return asyncio.get_running_loop().call_later(delay, subscription.put, DEADLINE_REACHED)

    async def on_kill(self) -> None:
        """Cancel the remote run when a user kills the deferred task (Airflow 3.3+); bounded in time.

        Never called on triggerer restarts, so a redistributed trigger leaves its run alone. A run
        already finished answers its status unchanged, so a late cancel is harmless.
        """
        if not self.cancel_on_kill:
            self.log.info("Task killed; leaving Sixtyfour run %s running (cancel_on_kill=False)", self.job_id)
            return
        from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

        async def cancel() -> None:
            async with SixtyfourAsyncHook(sixtyfour_conn_id=self.sixtyfour_conn_id) as hook:
                result = await hook.cancel_run(self.job_id)
            self.log.info(
                "Task killed; asked Sixtyfour to cancel run %s (it answered %s)", self.job_id, result.status.value
            )

        try:
            await asyncio.wait_for(cancel(), ON_KILL_TIMEOUT)
        except Exception as err:
            self.log.warning("Task killed, but cancelling Sixtyfour run %s failed: %s", self.job_id, err)


# The run-event watcher lives in its own module; it imports from here, as users do.
from airflow_provider_sixtyfour.triggers.run_events import SixtyfourWorkflowRunEventTrigger  # noqa: E402

__all__ = ["SixtyfourWorkflowRunEventTrigger", "SixtyfourWorkflowRunTrigger"]
