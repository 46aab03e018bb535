"""The event :class:`~airflow_provider_sixtyfour.triggers.sixtyfour.SixtyfourWorkflowRunTrigger` yields,
typed: the trigger builds a :class:`RunEvent`, and the run operator's and the sensor's
``execute_complete`` read one back; no I/O.

The payload is strict JSON, and holds neither the API key nor a signed URL::

    {"status": "success" | "failed" | "cancelled" | "timeout" | "error",
     "job_id": "...", "message": "...", "run": <LiveStatus.to_json() of the last status read, or None>}
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_provider_sixtyfour.protocol.describe import describe_end
from airflow_provider_sixtyfour.protocol.live_status import LiveStatus
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

_EVENT_FOR_STATUS = {
    RunStatus.COMPLETED: "success",
    RunStatus.FAILED: "failed",
    RunStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class RunEvent:
    """One event of the run trigger.

    :param status: ``success``, ``failed`` or ``cancelled`` (the run ended), ``timeout`` (the deadline
        came first) or ``error`` (the trigger could not watch the run).
    :param run: the last live status read, or None when none was.
    """

    status: str
    job_id: str
    message: str = ""
    run: LiveStatus | None = None

    @classmethod
    def ended(cls, run: LiveStatus) -> RunEvent:
        """The event of a run that has ended, with :func:`~.describe_end` as its message.

        A run that ended in a status this provider does not know (``timeout``, ``expired``) did not
        complete: its event is ``failed``.
        """
        return cls(_EVENT_FOR_STATUS.get(run.status, "failed"), run.job_id, describe_end(run), run)

    def to_json(self) -> dict[str, Any]:
        """The payload (see the module's docstring)."""
        run = self.run.to_json() if self.run is not None else None
        return {"status": self.status, "job_id": self.job_id, "message": self.message, "run": run}

    @classmethod
    def from_json(cls, payload: Mapping[str, Any]) -> RunEvent:
        """Read a payload back, typed; also one of an earlier version, whose ``run`` is a plain dict
        without ``reported_status`` (a deployment upgraded while tasks were deferred still resumes them)."""
        job_id = str(payload.get("job_id") or "")
        raw = payload.get("run")
        run = LiveStatus.from_json(raw) if isinstance(raw, Mapping) else None
        if run is not None and not run.run_id:
            run = dataclasses.replace(run, run_id=job_id)
        return cls(str(payload.get("status")), job_id, str(payload.get("message") or ""), run)
