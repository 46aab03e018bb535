"""What a failed poll means for the runs and watchers of a poller, decided without I/O.

A cycle's list call can fail three ways: transiently (429, 5xx, network: the hook already retried, so
the poller tells its subscribers and waits longer each time), refused for the list alone (403 feature,
404, 422: per-run ``live_status`` may still work, so the poller falls back to it and only the
watchers, who need the list, fail), or for good (401, a bad connection, a bug: every subscriber fails).
A single run's ``live_status`` failing transiently is asked again next cycle; otherwise that run fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from airflow_provider_sixtyfour.protocol import retry
from airflow_provider_sixtyfour.protocol.errors import SixtyfourApiError, SixtyfourError, is_transient

#: Longest wait between cycles after repeated failures of the list call.
MAX_ERROR_WAIT = 60.0


class Verdict(Enum):
    """What the poller does after a failed cycle."""

    #: Tell every subscriber it will try again (:class:`Retrying`), and wait ``wait`` seconds.
    RETRY = "retry"
    #: Stop listing: poll each run's ``live_status`` from now on; the watchers fail.
    DIRECT = "direct"
    #: Every subscriber fails.
    FAIL_ALL = "fail_all"


@dataclass(frozen=True)
class CycleFailure:
    """The decision about one failed cycle.

    :param verdict: what to do.
    :param wait: seconds before the next cycle.
    :param unexpected: the error is not one of this provider's (worth a traceback in the log).
    """

    verdict: Verdict
    wait: float
    unexpected: bool = False


def backoff(interval: float, failures: int) -> float:
    """The wait after ``failures`` failed cycles in a row: the interval, doubled each time (six times at
    most), capped at :data:`MAX_ERROR_WAIT` (or the interval, when longer); no jitter: one poller a loop."""
    return retry.backoff(failures, interval, max(interval, MAX_ERROR_WAIT), jitter=False, most_doublings=6)


def cycle_failed(err: BaseException, failures: int, interval: float, direct_only: bool) -> CycleFailure:
    """Decide what a failed cycle means.

    :param failures: failed cycles in a row, this one included.
    :param direct_only: the poller already polls each run's ``live_status`` (the list was refused).
    """
    if is_transient(err):
        return CycleFailure(Verdict.RETRY, backoff(interval, failures))
    if isinstance(err, SixtyfourApiError) and err.status_code != 401 and not direct_only:
        return CycleFailure(Verdict.DIRECT, 0.0)
    return CycleFailure(Verdict.FAIL_ALL, interval, unexpected=not isinstance(err, SixtyfourError))


def live_failure_is_retried(err: BaseException) -> bool:
    """True when a run's failed ``live_status`` is asked again next cycle; else the run fails."""
    return is_transient(err)
