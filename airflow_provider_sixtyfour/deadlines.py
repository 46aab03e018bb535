"""How long a task may wait, and the absolute deadline it carries into a trigger; pure, no I/O.

Every wait is bounded by :data:`MAX_WAIT_SECONDS`. A far-future ``timeout`` (``1e12``,
``timedelta.max``) is refused when the operator, sensor or trigger is built or starts, before any
paid call, rather than crashing the deferral after a run was started (datetimes end in the year
9999, a thread cannot wait ~292 years, Airflow's trigger timeout is a datetime). The checks
themselves are :func:`~airflow_provider_sixtyfour.protocol.validate.timeout_seconds` and
:func:`~airflow_provider_sixtyfour.protocol.validate.deadline`, re-exported here.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from airflow_provider_sixtyfour.protocol.validate import CLOCK_SKEW_SECONDS as CLOCK_SKEW_SECONDS
from airflow_provider_sixtyfour.protocol.validate import MAX_WAIT_SECONDS as MAX_WAIT_SECONDS
from airflow_provider_sixtyfour.protocol.validate import deadline as check_deadline
from airflow_provider_sixtyfour.protocol.validate import timeout_seconds as timeout_seconds

__all__ = [
    "CLOCK_SKEW_SECONDS",
    "MAX_WAIT_SECONDS",
    "check_deadline",
    "deadline_from",
    "describe_deadline",
    "timeout_seconds",
]


def deadline_from(timeout: float | None, now: float | None = None) -> float | None:
    """The absolute deadline (epoch seconds) ``timeout`` seconds from ``now``, or None."""
    if timeout is None:
        return None
    return (time.time() if now is None else now) + timeout


def describe_deadline(deadline: float) -> str:
    """The deadline as an ISO-8601 UTC time, for messages."""
    return datetime.fromtimestamp(deadline, tz=timezone.utc).isoformat(timespec="seconds")


#: Seconds between status polls when none is given (the run and cancel operators, the run trigger);
#: Sixtyfour recommends 5 to 10.
DEFAULT_POLL_SECONDS = 5.0


def poll_seconds(interval: object, name: str = "poll_interval") -> float:
    """``interval`` checked as :func:`timeout_seconds` checks a timeout; None is :data:`DEFAULT_POLL_SECONDS`."""
    seconds = timeout_seconds(interval, name)
    return DEFAULT_POLL_SECONDS if seconds is None else seconds


def wait_budget(timeout: float | None, execution_timeout: timedelta | None) -> float | None:
    """Seconds a run operator's run may take: ``timeout``, or just under ``execution_timeout`` when that
    is shorter (10 % less, at most 30 s less, at least 1 s); None when neither is set.

    Airflow 3.3 does not enforce ``execution_timeout`` while a task is deferred, and where it does
    enforce it the task dies without cancelling the remote run; folding it into the deadline makes
    the operator cancel the run and fail clearly first. An ``execution_timeout`` beyond
    :data:`MAX_WAIT_SECONDS` (``timedelta(days=400)``, ``timedelta.max``) raises
    :class:`~.SixtyfourInputError`, as such a ``timeout`` does: called before any paid call, it keeps
    a deferral from crashing on its out-of-range deadline after the run was started.
    """
    budgets = [timeout] if timeout is not None else []
    if execution_timeout is not None:
        seconds = timeout_seconds(execution_timeout, "execution_timeout")
        assert seconds is not None  # a timedelta is never "no limit"
        budgets.append(max(1.0, seconds - min(30.0, seconds * 0.1)))
    return min(budgets) if budgets else None
