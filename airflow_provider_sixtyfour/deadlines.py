"""How long a task may wait, and the absolute deadline it carries into a trigger; pure, no I/O.

Every wait is bounded by :data:`MAX_WAIT_SECONDS`. A far-future ``timeout`` (``1e12``,
``timedelta.max``) is refused when the operator, sensor or trigger is built or starts, before any
paid call, rather than crashing the deferral after a run was started (datetimes end in the year
9999, a thread cannot wait ~292 years, Airflow's trigger timeout is a datetime).
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta, timezone

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError

#: The longest wait (a timeout, a poll interval) any operator, sensor or trigger accepts: 366 days.
MAX_WAIT_SECONDS = 366 * 24 * 3600.0
#: Clock skew allowed between the worker that computed a deadline and the triggerer that checks it.
CLOCK_SKEW_SECONDS = 24 * 3600.0


def timeout_seconds(timeout: object, name: str = "timeout") -> float | None:
    """``timeout`` (seconds or a ``timedelta``) as positive seconds up to :data:`MAX_WAIT_SECONDS`; None: no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        try:
            seconds = float(timeout)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        raise SixtyfourInputError(f"{name} must be a number of seconds or a timedelta, got {type(timeout).__name__}")
    if math.isnan(seconds) or seconds <= 0:
        raise SixtyfourInputError(f"{name} must be positive, got {timeout!r}")
    if seconds > MAX_WAIT_SECONDS:
        raise SixtyfourInputError(f"{name} must be at most {MAX_WAIT_SECONDS:.0f} seconds (366 days), got {timeout!r}")
    return seconds


def deadline_from(timeout: float | None, now: float | None = None) -> float | None:
    """The absolute deadline (epoch seconds) ``timeout`` seconds from ``now``, or None."""
    if timeout is None:
        return None
    return (time.time() if now is None else now) + timeout


def check_deadline(deadline: object, now: float | None = None) -> float | None:
    """``deadline`` (epoch seconds, or None) as a float; raises unless it is finite, after 1970 and at
    most :data:`MAX_WAIT_SECONDS` (plus :data:`CLOCK_SKEW_SECONDS`) from ``now``."""
    if deadline is None:
        return None
    if isinstance(deadline, bool) or not isinstance(deadline, (int, float)) or not math.isfinite(deadline):
        raise SixtyfourInputError(
            f"deadline must be an absolute time in epoch seconds (e.g. time.time() + 3600) or None, got {deadline!r}"
        )
    latest = (time.time() if now is None else now) + MAX_WAIT_SECONDS + CLOCK_SKEW_SECONDS
    if not 0 <= deadline <= latest:
        raise SixtyfourInputError(
            f"deadline {deadline!r} is out of range: it must be after 1970 and at most 366 days from now "
            f"(epoch seconds up to {latest:.0f})"
        )
    return float(deadline)


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
    the operator cancel the run and fail clearly first.
    """
    budgets = [timeout] if timeout is not None else []
    if execution_timeout is not None:
        seconds = execution_timeout.total_seconds()
        budgets.append(max(1.0, seconds - min(30.0, seconds * 0.1)))
    return min(budgets) if budgets else None
