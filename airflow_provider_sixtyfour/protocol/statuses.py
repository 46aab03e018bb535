"""Run and block statuses of the Sixtyfour Workflows API, and which of them are terminal."""

from __future__ import annotations

import logging
from datetime import datetime
from enum import Enum

log = logging.getLogger(__name__)

_seen_unknown: set[str] = set()

#: The API's other spelling of ``cancelled`` (live status and the cancel answer say ``canceled``).
_CANCELED = "canceled"


def status_text(value: object) -> str:
    """A status (a string or a member of these enums) as lower-case text, ``canceled`` spelt ``cancelled``."""
    text = str(getattr(value, "value", value) or "").strip().lower()
    return "cancelled" if text == _CANCELED else text


class RunStatus(str, Enum):
    """The status of a workflow run (``overall_status`` in live status, ``status`` in run lists).

    The API spells the cancelled state both ``cancelled`` and ``canceled``; both parse to
    :attr:`CANCELLED`. Any other value (``timeout``, ``expired``, anything new) parses to
    :attr:`UNKNOWN`: such a run has ended once its ``completed_at`` is set (see :func:`run_has_ended`),
    and it never counts as completed.
    """

    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> RunStatus:
        """Map an API status string to a member; unknown values are logged once and become UNKNOWN."""
        text = status_text(value)
        try:
            return cls(text)
        except ValueError:
            if text not in _seen_unknown:
                _seen_unknown.add(text)
                log.warning(
                    "Sixtyfour answered an unknown run status %r; the run counts as ended (not completed) once "
                    "its completed_at is set, and as still going until then.",
                    text[:80],
                )
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        """True once the run can no longer change: completed, failed or cancelled."""
        return self in TERMINAL_STATUSES

    @property
    def is_active(self) -> bool:
        """True while the run is queued or running (the API's ``status=active`` filter)."""
        return self in ACTIVE_STATUSES


TERMINAL_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})
ACTIVE_STATUSES: frozenset[RunStatus] = frozenset({RunStatus.QUEUED, RunStatus.RUNNING})


def _is_set(completed_at: object) -> bool:
    return isinstance(completed_at, datetime) or (isinstance(completed_at, str) and bool(completed_at.strip()))


def ended_status(status: RunStatus, completed_at: object) -> RunStatus | None:
    """How a run ended, or None while it has not: its terminal status, or :attr:`RunStatus.UNKNOWN` for
    an unknown status whose ``completed_at`` is set (the API documents that such a run has ended).

    ``completed_at`` is a datetime, the API's string, or None; an empty string is not set. A known
    active status (queued, running) has not ended, whatever ``completed_at`` says.
    """
    if status.is_terminal:
        return status
    if status is RunStatus.UNKNOWN and _is_set(completed_at):
        return status
    return None


def run_has_ended(status: RunStatus, completed_at: object) -> bool:
    """Whether a run has ended (see :func:`ended_status`): a status this provider does not know ends
    once ``completed_at`` is set, since the run stopped in a state it cannot call a success, and waiting
    longer would hang the task."""
    return ended_status(status, completed_at) is not None


def spelled_status(value: object) -> str:
    """A status as the API spelled it, lower-cased and bounded, for messages (``'unknown'`` when unreadable)."""
    text = value.strip().lower() if isinstance(value, str) else ""
    return (text[:80] or "unknown") if text.isprintable() else "unknown"


#: The values ``GET /workflows/runs`` accepts for its ``status`` filter.
LIST_STATUS_FILTERS: frozenset[str] = frozenset({"running", "completed", "cancelled", "active"})


class BlockStatus(str, Enum):
    """The status of one block inside a run's live status."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> BlockStatus:
        """Map an API block status to a member; anything unrecognised is UNKNOWN."""
        try:
            return cls(str(value or "").strip().lower())
        except ValueError:
            return cls.UNKNOWN
