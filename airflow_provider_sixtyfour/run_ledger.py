"""What a task instance writes down about its Sixtyfour run, in Airflow 3.3's task state store.

One :class:`StartRecord` per task instance (see :mod:`airflow_provider_sixtyfour.idempotency`): the try
that started the run, its idempotency key, the job id, the CSV's upload handle, and whether a try
deferred on the run and was then ended by a user while its trigger waited.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class StartRecord:
    """What a try wrote down about the run it starts.

    :param try_number: the try that starts the run.
    :param idempotency_key: the key its start request is sent with.
    :param job_id: the run's id, once the API answered the start.
    :param workflow_id: the workflow, for the logs.
    :param input_handle: the upload handle of the run's CSV, recorded after the upload and before the
        start request that names it, so that replaying the key sends the same request.
    :param deferred_by_try: the try that deferred on this run with ``cancel_on_kill`` set and has not
        resumed in a worker since (see :meth:`abandoned_while_deferred`).
    """

    try_number: int
    idempotency_key: str
    job_id: str | None = None
    workflow_id: str | None = None
    input_handle: str | None = None
    deferred_by_try: int | None = None

    def abandoned_while_deferred(self, try_number: int) -> bool:
        """True when an earlier try than ``try_number`` deferred on this run and never resumed.

        Only a user action ends a deferred try so: clearing the task (or marking it failed or
        successful) while its trigger waits. Airflow 3.3 then calls the trigger's ``on_kill``, which
        cancels the run, but on the triggerer's next loop: the next try, queued at once, may read the
        run first and still see it running. Such a run is not reattached to.
        """
        return self.job_id is not None and self.deferred_by_try is not None and self.deferred_by_try < try_number

    def to_json(self) -> dict[str, Any]:
        return {
            "try_number": self.try_number,
            "idempotency_key": self.idempotency_key,
            "job_id": self.job_id,
            "workflow_id": self.workflow_id,
            "input_handle": self.input_handle,
            "deferred_by_try": self.deferred_by_try,
        }

    @classmethod
    def from_json(cls, value: object) -> StartRecord | None:
        """Read a stored record; None for anything that is not one (foreign or corrupt values)."""
        if not isinstance(value, Mapping):
            return None
        key = value.get("idempotency_key")
        try_number = value.get("try_number")
        if not isinstance(key, str) or not key or isinstance(try_number, bool) or not isinstance(try_number, int):
            return None
        job_id = value.get("job_id")
        workflow_id = value.get("workflow_id")
        input_handle = value.get("input_handle")
        deferred = value.get("deferred_by_try")
        return cls(
            try_number=try_number,
            idempotency_key=key,
            job_id=job_id if isinstance(job_id, str) and job_id else None,
            workflow_id=workflow_id if isinstance(workflow_id, str) else None,
            input_handle=input_handle if isinstance(input_handle, str) and input_handle else None,
            deferred_by_try=deferred if isinstance(deferred, int) and not isinstance(deferred, bool) else None,
        )


class RunLedger:
    """The task state store of Airflow 3.3+, holding one :class:`StartRecord` per task instance.

    :param store: ``context["task_state_store"]``.
    """

    STORE_KEY = "sixtyfour_run"

    def __init__(self, store: Any) -> None:
        self._store = store

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> RunLedger | None:
        """The ledger of this task instance, or None where Airflow has no task state store (< 3.3)."""
        try:
            store = context.get("task_state_store")
        except Exception:
            return None
        return None if store is None else cls(store)

    def read(self) -> StartRecord | None:
        """The stored record, or None."""
        return StartRecord.from_json(self._store.get(self.STORE_KEY))

    def write(self, record: StartRecord) -> None:
        """Replace the stored record."""
        self._store.set(self.STORE_KEY, record.to_json())

    def mark_deferred(self, job_id: str, try_number: int) -> None:
        """Record that ``try_number`` defers on ``job_id`` and its trigger cancels the run on kill."""
        record = self.read()
        if record is not None and record.job_id == job_id:
            self.write(replace(record, deferred_by_try=try_number))

    def mark_resumed(self, job_id: str) -> None:
        """Record that the deferred try resumed in a worker: a later try may reattach to the run again."""
        record = self.read()
        if record is not None and record.job_id == job_id and record.deferred_by_try is not None:
            self.write(replace(record, deferred_by_try=None))
