"""The one blocking wait for a run to end, shared by the run operator and the cancel operator.

Like dbt Cloud's ``wait_for_job_run_status``: poll the run's live status every ``poll_seconds`` until
it has ended, and say why when it does not. Each change of progress is logged once. A status poll
that fails with a transient error (after the hook's own retries) is tolerated
:data:`MAX_CONSECUTIVE_POLL_FAILURES` - 1 times in a row; a rate-limited one is not a failure at all
(see :func:`~airflow_provider_sixtyfour.protocol.errors.fails_a_poll`). While it waits, no wait of the
hook (a retry, a told rate-limit wait) passes the deadline, and setting ``stop`` ends every one.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowException

from airflow_provider_sixtyfour.protocol.describe import ProgressTracker
from airflow_provider_sixtyfour.protocol.errors import TRANSIENT_ERRORS, fails_a_poll

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.protocol.models import LiveStatus

#: Status polls that may fail in a row (each after the hook's own retries) before the wait fails.
MAX_CONSECUTIVE_POLL_FAILURES = 5


class RunWaitTimedOut(Exception):
    """The deadline came before the run ended, or the API asked for a wait that would pass it.

    :param last: the last live status read, or None when no poll answered.
    :param detail: the error that asked for the refused wait, if that is what ended the wait.
    """

    def __init__(self, job_id: str, last: LiveStatus | None, detail: str = "") -> None:
        super().__init__(f"Sixtyfour run {job_id} had not ended at its deadline" + (f" ({detail})" if detail else ""))
        self.last = last
        self.detail = detail


class RunWaitStopped(AirflowException):
    """``stop`` was set (the task is being killed) before the run ended; fails the task saying so."""


def wait_for_run_end(
    hook: SixtyfourHook,
    job_id: str,
    *,
    poll_seconds: float,
    deadline: float | None,
    stop: threading.Event,
    log: Any,
) -> LiveStatus:
    """Poll ``job_id`` until it has ended and return its last live status (see the module's docstring).

    :param deadline: epoch seconds past which :class:`RunWaitTimedOut` is raised; None for no limit.
    :param stop: once set, :class:`RunWaitStopped` (an ``AirflowException``) is raised.
    :raises: the poll's error once :data:`MAX_CONSECUTIVE_POLL_FAILURES` polls failed in a row, and any
        error that is not transient (a refused key, an unknown run) at once.
    """
    hook.bound_waits(stop, deadline)
    try:
        return _poll(hook, job_id, poll_seconds, deadline, stop, log)
    finally:
        hook.bound_waits(stop)


def _poll(
    hook: SixtyfourHook, job_id: str, poll_seconds: float, deadline: float | None, stop: threading.Event, log: Any
) -> LiveStatus:
    tracker = ProgressTracker()
    failures = 0
    last: LiveStatus | None = None
    while True:
        if stop.is_set():
            raise RunWaitStopped(f"Stopped waiting for Sixtyfour run {job_id}: the task was killed")
        try:
            live = hook.get_live_status(job_id)
        except TRANSIENT_ERRORS as err:
            if err.wait_refused and deadline is not None and not stop.is_set():
                # The API asked for a wait that would pass the deadline: no answer can come in time.
                raise RunWaitTimedOut(job_id, last, str(err)) from err
            if not fails_a_poll(err):
                log.warning("Status poll of Sixtyfour run %s rate limited (%s); polling later.", job_id, err)
            else:
                failures += 1
                if failures >= MAX_CONSECUTIVE_POLL_FAILURES:
                    raise
                log.warning(
                    "Status poll of Sixtyfour run %s failed (%s); %d more failures in a row are tolerated.",
                    job_id,
                    err,
                    MAX_CONSECUTIVE_POLL_FAILURES - failures - 1,
                )
        else:
            failures = 0
            last = live
            line = tracker.changed(live)
            if line:
                log.info("%s", line)
            if live.has_ended:
                return live
        if deadline is not None and time.time() >= deadline:
            raise RunWaitTimedOut(job_id, last)
        pause = poll_seconds if deadline is None else min(poll_seconds, deadline - time.time())
        stop.wait(max(0.0, pause))
