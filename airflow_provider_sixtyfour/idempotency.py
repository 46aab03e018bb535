"""Which Sixtyfour run a task instance owns, across retries: never two paid runs for one task instance.

Two mechanisms work together:

1. **Idempotency key.** Every start sends an ``Idempotency-Key`` derived from the task instance (dag id,
   task id, run id, map index) and the number of the try that starts the run. When a start's answer is
   lost, the hook sends it again with the same key and the API answers the run it already started
   (``already_started: true``) instead of starting a second one.
2. **Reattach on retry.** A retry looks for the run an earlier try started. It reattaches when that run
   is queued, running or completed, and starts a new run, keyed with its own try number, only when the
   earlier run failed or was cancelled (or the API no longer knows it).

Where the earlier run is found depends on the Airflow version; what persists between tries was checked
on the installed versions:

* **Airflow 3.3+: the task state store** (``context["task_state_store"]``, the store Airflow's
  ``ResumableJobMixin`` uses; it survives retries). A record naming the try and its key is written
  *before* the start request and completed with the job id after it, so a worker that dies between the
  two is recovered too: the retry replays the recorded key and the API answers the run it started. A
  CSV's upload handle is recorded too, before the start request names it, so the replay sends the same
  request rather than a new upload (a different request, which the API refuses with 409). The
  mixin class itself is not used: it persists the id only after submitting (its documented crash
  window), and its reattach decision cannot be separated from its blocking poll loop, which the
  deferrable path needs.
* **Airflow 2.11 and 3.0-3.2: the idempotency keys themselves.** XCom of the task is cleared at the
  start of every try (so an earlier try's ``job_id`` XCom is gone) and there is no task state store. The
  retry replays the start request with the keys of the earlier tries, oldest first: the API answers the
  run each key started. If a key started no run (that try failed before starting one), the replay starts
  the run now and this try owns it, so a round starts at most one run. This relies on the API keeping
  keys at least as long as a task's retries last (the retention is not documented). Nothing keeps a CSV's
  upload handle between tries here, so a replayed ``read_csv`` start is a new upload and is refused (409).

A task cleared after success reattaches to the completed run like a retry does (as ``ResumableJobMixin``
does); pass ``reattach=False`` to always start a new run.

A task cleared (or marked) by a user **while deferred** is different on Airflow 3.3: the trigger's
``on_kill`` cancels its run, but only on the triggerer's next loop, and the next try, queued at once, may
read the run before that and see it running. So a deferring try marks its record (``deferred_by_try``,
with ``cancel_on_kill``), resuming clears the mark, and a later try that finds it still set knows the
earlier try was ended while its trigger waited: it cancels that run too (unless it completed, which is
reused) and starts a new one with its own key (:func:`reuse_verdict`).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from airflow_provider_sixtyfour.protocol.endpoints import IDEMPOTENCY_KEY_PREFIX
from airflow_provider_sixtyfour.protocol.errors import SixtyfourConflictError, SixtyfourError, SixtyfourNotFoundError
from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunStarted
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.run_ledger import RunLedger, StartRecord

__all__ = ["OwnedRun", "Reuse", "RunClaimer", "RunLedger", "StartRecord", "TaskInstanceIdentity", "reuse_verdict"]

#: Statuses of an earlier try's run that a retry reattaches to (a completed run is not paid twice). An
#: unknown status counts only while the run has not ended: one that ended so is treated as failed.
REATTACH_STATUSES: frozenset[RunStatus] = frozenset(
    {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.UNKNOWN}
)


class Reuse(Enum):
    """What a retry does with the run an earlier try started."""

    REATTACH = "reattach"
    START_NEW = "start_new"
    CANCEL_AND_START_NEW = "cancel_and_start_new"


def reuse_verdict(status: RunStatus, has_ended: bool, abandoned: bool) -> Reuse:
    """Decide about an earlier try's run from its live status; pure.

    :param status: the run's status now.
    :param has_ended: the live status says it ended (``completed_at`` set).
    :param abandoned: the earlier try was ended by a user while deferred on it
        (:meth:`StartRecord.abandoned_while_deferred`): its trigger's ``on_kill`` is cancelling the run,
        so a run not yet completed is cancelled (again, in case ``on_kill`` did not land) and replaced;
        a completed one is still reused, never paid twice.
    """
    if status not in REATTACH_STATUSES or (has_ended and not status.is_terminal):
        return Reuse.START_NEW
    if abandoned and status is not RunStatus.COMPLETED:
        return Reuse.CANCEL_AND_START_NEW
    return Reuse.REATTACH


@dataclass(frozen=True)
class TaskInstanceIdentity:
    """The task instance a run belongs to, and the try now running.

    :param dag_id: the DAG's id.
    :param task_id: the task's id.
    :param run_id: the DAG run's id (the same for every try of one task instance).
    :param map_index: the mapped task's index, -1 when not mapped.
    :param try_number: the try now running, 1 for the first.
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: int
    try_number: int

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> TaskInstanceIdentity:
        """Read the identity from an Airflow task context (Airflow 2.11 and 3.x alike)."""
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        run_id = getattr(ti, "run_id", None) or context.get("run_id")
        return cls(
            dag_id=str(ti.dag_id),
            task_id=str(ti.task_id),
            run_id=str(run_id),
            map_index=-1 if map_index is None else int(map_index),
            try_number=max(1, int(getattr(ti, "try_number", 1) or 1)),
        )

    def idempotency_key(self, try_number: int | None = None) -> str:
        """The ``Idempotency-Key`` of the run started by ``try_number`` (default: the current try).

        Deterministic: the same task instance and try always give the same key, so a start that is
        sent again (lost answer, worker restart) cannot start a second run.
        """
        number = self.try_number if try_number is None else try_number
        material = json.dumps([self.dag_id, self.task_id, self.run_id, self.map_index, number])
        return IDEMPOTENCY_KEY_PREFIX + hashlib.sha256(material.encode("utf-8")).hexdigest()[:40]

    def describe(self) -> str:
        """``dag.task[map] run_id try N`` for log lines."""
        mapped = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.dag_id}.{self.task_id}{mapped} run {self.run_id} try {self.try_number}"


@dataclass(frozen=True)
class OwnedRun:
    """The run this try works with, and how it came to own it.

    :param job_id: the run's id.
    :param status: its status when the decision was made (``QUEUED`` for a run just started).
    :param reattached: True when the run was started by an earlier try (or an earlier request of this
        try whose answer was lost) rather than by this try's own start request.
    :param started_by_try: the number of the try whose key started the run.
    :param live: the live status read while deciding, if one was read.
    """

    job_id: str
    status: RunStatus
    reattached: bool
    started_by_try: int
    live: LiveStatus | None = None


class StartRequest(Protocol):
    """A run's start request: its input is uploaded once (a CSV), then it is sent with a given key.

    ``input_handle`` is the upload's handle: None before the upload and for input sent inline (webhook
    rows). The claimer records it before the start request names it, and restores it for a replay of an
    earlier try's key, so the replayed request is the same request and the API answers the same run.
    """

    input_handle: str | None

    def prepare_input(self) -> None:
        """Upload the run's input if it has one to upload and it is not uploaded yet."""

    def start(self, idempotency_key: str) -> RunStarted:
        """Send the start request with ``idempotency_key`` (preparing the input first if needed)."""


class RunClaimer:
    """Finds the run an earlier try started, or starts one: the single place where runs are started.

    :param hook: a :class:`~airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook` (its
        ``get_live_status`` is used to judge an earlier run).
    :param identity: the task instance and try.
    :param ledger: the task state store (Airflow 3.3+), or None to find earlier runs by replaying keys.
    :param reattach: False to always start a new run with this try's key.
    :param workflow_id: recorded with the start, for the logs.
    :param log: where decisions are logged.
    """

    def __init__(
        self,
        hook: Any,
        identity: TaskInstanceIdentity,
        ledger: RunLedger | None,
        *,
        reattach: bool = True,
        workflow_id: str | None = None,
        log: logging.Logger | Any = None,
    ) -> None:
        self.hook = hook
        self.identity = identity
        self.ledger = ledger
        self.reattach = reattach
        self.workflow_id = workflow_id
        self.log = log or logging.getLogger(__name__)

    def claim(self, request: StartRequest) -> OwnedRun:
        """Return the run this try owns: an earlier try's run to reattach to, or a new one."""
        if self.reattach and self.identity.try_number > 1:
            owned = (
                self._reattach_from_ledger(request) if self.ledger is not None else self._reattach_by_replay(request)
            )
            if owned is not None:
                return owned
        elif self.reattach and self.ledger is not None:
            # First try, but the store may hold a record from a crash between the record and the start.
            record = self.ledger.read()
            if record is not None and record.try_number == self.identity.try_number:
                owned = self._judge_record(record, request)
                if owned is not None:
                    return owned
        return self._start_new(request)

    # -- Airflow 3.3+: the task state store ------------------------------------------------------

    def _reattach_from_ledger(self, request: StartRequest) -> OwnedRun | None:
        assert self.ledger is not None
        record = self.ledger.read()
        if record is None:
            self.log.info(
                "Try %d: the task state store holds no earlier Sixtyfour run for this task instance; "
                "starting a new run.",
                self.identity.try_number,
            )
            return None
        return self._judge_record(record, request)

    def _judge_record(self, record: StartRecord, request: StartRequest) -> OwnedRun | None:
        if record.job_id is None:
            # The earlier try wrote its key but not the job id: it may have died after sending the start.
            self.log.info(
                "Try %d: try %d recorded a start without its job id (it stopped mid-start); replaying its "
                "idempotency key %s so the API answers the run it started, if any.",
                self.identity.try_number,
                record.try_number,
                record.idempotency_key,
            )
            if record.input_handle is not None:
                # The same upload, so the replay is the same request (a new upload would be a new one).
                request.input_handle = record.input_handle
            return self._replay(record.try_number, record.idempotency_key, request)
        abandoned = record.abandoned_while_deferred(self.identity.try_number)
        return self._judge_job(record.try_number, record.job_id, abandoned=abandoned)

    # -- Older Airflow: replay the earlier tries' keys -------------------------------------------

    def _reattach_by_replay(self, request: StartRequest) -> OwnedRun | None:
        self.log.info(
            "Try %d: no task state store on this Airflow version (XCom is cleared between tries); asking the "
            "API which runs the idempotency keys of tries 1-%d started.",
            self.identity.try_number,
            self.identity.try_number - 1,
        )
        for earlier in range(1, self.identity.try_number):
            owned = self._replay(earlier, self.identity.idempotency_key(earlier), request)
            if owned is not None:
                return owned
        return None

    def _replay(self, try_number: int, key: str, request: StartRequest) -> OwnedRun | None:
        try:
            started = request.start(key)
        except SixtyfourConflictError as err:
            # The API's own advice ("use a new key") cannot be followed from a DAG: say what happened.
            raise SixtyfourConflictError(
                err.status_code,
                err.method,
                err.path,
                f"{err.api_message}. Try {self.identity.try_number} replayed the start request of try {try_number} "
                "(its Idempotency-Key) to reattach to the run that try started, but the request differs from "
                "that try's (workflow_id, webhook_payload, specs_override, save_json, or the upload handle of "
                "input_csv). Restore the input to reattach, or pass reattach=False to start a new run",
                details=err.details,
            ) from None
        if not started.already_started:
            self.log.info(
                "Try %d: try %d had started no run, so its key started Sixtyfour run %s now; this try owns it.",
                self.identity.try_number,
                try_number,
                started.job_id,
            )
            self._record(try_number, key, started.job_id, request)
            return OwnedRun(started.job_id, started.status, reattached=False, started_by_try=try_number)
        owned = self._judge_job(try_number, started.job_id)
        if owned is not None:
            self._record(try_number, key, started.job_id, request)
        return owned

    # -- Shared -----------------------------------------------------------------------------------

    def _judge_job(self, try_number: int, job_id: str, *, abandoned: bool = False) -> OwnedRun | None:
        try:
            live = self.hook.get_live_status(job_id)
        except SixtyfourNotFoundError:
            self.log.warning(
                "Try %d: Sixtyfour run %s started by try %d is unknown to the API (404); starting a new run.",
                self.identity.try_number,
                job_id,
                try_number,
            )
            return None
        verdict = reuse_verdict(live.status, live.has_ended, abandoned)
        if verdict is Reuse.REATTACH:
            self.log.info(
                "Try %d: reattaching to Sixtyfour run %s started by try %d (status %s); no new run is started.",
                self.identity.try_number,
                job_id,
                try_number,
                live.status.value,
            )
            return OwnedRun(job_id, live.status, reattached=True, started_by_try=try_number, live=live)
        if verdict is Reuse.CANCEL_AND_START_NEW:
            self.log.warning(
                "Try %d: Sixtyfour run %s (status %s) was left by an earlier try while deferred on it (the task "
                "was cleared or marked by a user), so its trigger cancels it; cancelling it here too, and "
                "starting a new run.",
                self.identity.try_number,
                job_id,
                live.status.value,
            )
            self._cancel(job_id)
            return None
        self.log.warning(
            "Try %d: Sixtyfour run %s started by try %d ended %s; it will not be reused.",
            self.identity.try_number,
            job_id,
            try_number,
            live.reported_status,
        )
        return None

    def _cancel(self, job_id: str) -> None:
        try:
            answer = self.hook.cancel_run(job_id)
        except SixtyfourError as err:
            self.log.warning("Could not cancel Sixtyfour run %s (%s): cancel it in the Sixtyfour app.", job_id, err)
            return
        self.log.info("Asked Sixtyfour to cancel run %s (it answered %s).", job_id, answer.status.value)

    def _start_new(self, request: StartRequest) -> OwnedRun:
        number = self.identity.try_number
        key = self.identity.idempotency_key()
        # Upload first: the record must name the upload before any start request does.
        request.prepare_input()
        self._record(number, key, None, request)
        self.log.info(
            "Try %d: starting a new Sixtyfour run of workflow %s (idempotency key %s).",
            number,
            self.workflow_id,
            key,
        )
        started = request.start(key)
        self._record(number, key, started.job_id, request)
        if started.already_started:
            self.log.info(
                "The API answered run %s as already started with this key (an earlier start's answer was "
                "lost); using it, no second run.",
                started.job_id,
            )
        return OwnedRun(started.job_id, started.status, reattached=started.already_started, started_by_try=number)

    def _record(self, try_number: int, key: str, job_id: str | None, request: StartRequest) -> None:
        if self.ledger is not None:
            self.ledger.write(StartRecord(try_number, key, job_id, self.workflow_id, request.input_handle))
