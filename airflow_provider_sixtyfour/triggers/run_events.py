"""``SixtyfourWorkflowRunEventTrigger``: an ``AssetWatcher``'s trigger, one event per Sixtyfour run that ends."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime, timezone
from typing import Any

from airflow.triggers.base import TriggerEvent

from airflow_provider_sixtyfour.connection_form import DEFAULT_CONN_ID
from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.protocol.validate import LIST_LIMIT_MAX
from airflow_provider_sixtyfour.triggers.run_ends import (
    RunEndTracker,
    Watermark,
    parse_statuses,
    run_event_payload,
)

try:
    from airflow.triggers.base import BaseEventTrigger
except ImportError:  # Airflow 2 has no AssetWatcher; the class still imports, so shared DAG files parse.
    from airflow.triggers.base import BaseTrigger as BaseEventTrigger  # type: ignore[assignment]

#: Where the trigger is serialized from: its public import path, which stays when modules move.
CLASS_PATH = "airflow_provider_sixtyfour.triggers.sixtyfour.SixtyfourWorkflowRunEventTrigger"
#: The asset state store key prefix of a watcher's watermark (the rest is a digest of what it watches).
STATE_KEY_PREFIX = "sixtyfour_run_ends"


class SixtyfourWatcherError(SixtyfourError):
    """The watcher cannot list runs (a missing connection, a refused key, the list endpoint refused)."""


class SixtyfourWorkflowRunEventTrigger(BaseEventTrigger):
    """Yields one event for each run of the watched workflows that ends with one of ``statuses``.

    For ``Asset("sixtyfour://workflows/<workflow_id>", watchers=[AssetWatcher(name=..., trigger=...)])``
    (Airflow 3): a DAG scheduled on that Asset runs when such a run ends, whoever started it (the
    Sixtyfour app, its scheduler, a CRM's webhook, another DAG). Only runs that end after the watcher
    started count. It polls through the shared poller: one ``GET /workflows/runs`` per interval per
    connection answers for every watcher and every deferred task of that connection in the triggerer.

    Each event's payload is plain JSON: ``job_id``, ``workflow_id``, ``status``, ``completed_at``,
    ``error_message``, ``run_url`` and ``metrics`` (duration, block count, the run's scalar metrics);
    never a signed URL or the key. A DAG reads it from the triggering asset event's
    ``extra["payload"]``.

    Exactly once per run: on Airflow 3.3 the watermark lives in the asset state store, so a restarted
    triggerer neither repeats a run nor skips one that ended while it was down. Below 3.3 it is kept in
    memory: never repeated, but runs that end while no triggerer runs are skipped.

    :param workflow_id: the workflow to watch, or a list of them.
    :param statuses: the end statuses that fire: ``completed`` (default), ``failed``, ``cancelled``,
        ``unknown`` (a status the API has not documented, with ``completed_at`` set).
    :param poll_interval: seconds between run lists (shared with every trigger of the connection: the
        poller lists at the shortest interval any of them asks).
    :param sixtyfour_conn_id: the Airflow connection of the Sixtyfour API.
    """

    def __init__(
        self,
        workflow_id: str | Sequence[str],
        statuses: Sequence[str] = ("completed",),
        poll_interval: float = 30.0,
        sixtyfour_conn_id: str = DEFAULT_CONN_ID,
    ) -> None:
        super().__init__()
        self.workflow_ids = validate.workflow_ids(workflow_id)
        self.workflow_id: str | list[str] = (
            self.workflow_ids[0] if isinstance(workflow_id, str) else list(self.workflow_ids)
        )
        self.statuses: tuple[RunStatus, ...] = parse_statuses(statuses)
        self.poll_interval = validate.interval(poll_interval, bounded=False)
        self.sixtyfour_conn_id = validate.conn_id(sixtyfour_conn_id)
        self.watermark: Watermark | None = None

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """The class path and plain-JSON arguments that rebuild this trigger (never the API key)."""
        return (
            CLASS_PATH,
            {
                "workflow_id": self.workflow_id,
                "statuses": [status.value for status in self.statuses],
                "poll_interval": self.poll_interval,
                "sixtyfour_conn_id": self.sixtyfour_conn_id,
            },
        )

    @property
    def state_key(self) -> str:
        """The asset state store key of this watcher's watermark: one per connection and set of workflows."""
        identity = json.dumps([self.sixtyfour_conn_id, sorted(self.workflow_ids)], separators=(",", ":"))
        return f"{STATE_KEY_PREFIX}:{hashlib.sha256(identity.encode()).hexdigest()[:32]}"

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Yield an event for each watched run that ends, for as long as the watcher lives."""
        from airflow_provider_sixtyfour.hooks.settings import aload_settings
        from airflow_provider_sixtyfour.triggers.poller import Failed, Retrying, subscribe_runs_list

        try:
            settings = await aload_settings(self.sixtyfour_conn_id)
            subscription = await subscribe_runs_list(self.sixtyfour_conn_id, self.workflow_ids, self.poll_interval)
        except Exception as err:  # no such connection, a connection without key, ...
            raise SixtyfourWatcherError(f"Cannot watch Sixtyfour workflows {list(self.workflow_ids)}: {err}") from None
        try:
            watermark = await self._load_watermark()
            tracker = RunEndTracker(self.workflow_ids, self.statuses, watermark)
            self.log.info(
                "Watching Sixtyfour workflows %s for runs that end %s after %s (listing every %.1f s)",
                ", ".join(self.workflow_ids),
                "/".join(s.value for s in self.statuses),
                watermark.floor.isoformat(timespec="seconds"),
                self.poll_interval,
            )
            while True:
                update = await subscription.get()
                if isinstance(update, Failed):
                    raise SixtyfourWatcherError(
                        f"Cannot watch Sixtyfour workflows {list(self.workflow_ids)}: {update.error}"
                    )
                if isinstance(update, Retrying):
                    self.log.warning(
                        "Listing Sixtyfour runs failed (%s); trying again in %.1f s", update.error, update.retry_in
                    )
                    continue
                before = watermark.to_json()
                for record in tracker.observe(update.records, datetime.now(timezone.utc)):
                    payload = run_event_payload(record, settings.run_url(record.job_id))
                    self.log.info(
                        "Sixtyfour run %s of workflow %s ended %s", record.job_id, record.workflow_id, payload["status"]
                    )
                    yield TriggerEvent(payload)
                for lost in tracker.out_of_window(update.complete, update.oldest_queued):
                    self.log.warning(
                        "Sixtyfour run %s of workflow %s fell out of the run list (the %d newest runs) before it "
                        "ended: its end will not be announced",
                        lost.job_id,
                        lost.workflow_id,
                        LIST_LIMIT_MAX,
                    )
                if watermark.to_json() != before:
                    await self._save_watermark(watermark)
        finally:
            subscription.unsubscribe()

    # ---- the watermark: in the asset state store (Airflow 3.3+), else in memory ----------------------

    def _store(self) -> Any:
        return getattr(self, "asset_state_store", None)

    async def _load_watermark(self) -> Watermark:
        """The stored watermark, or a fresh one starting now (saved at once, so a restart keeps the start)."""
        if self.watermark is not None:
            return self.watermark
        store = self._store()
        stored: object = None
        if store is not None:
            try:
                stored = await _store_get(store, self.state_key)
            except ValueError as err:  # one trigger watching several Assets: no single store to use
                self.log.warning("The watermark stays in memory (%s)", err)
                store = None
        if stored is not None:
            try:
                self.watermark = Watermark.from_json(stored)
                self.log.info("Resuming from the watermark in the asset state store (key %s)", self.state_key)
                return self.watermark
            except ValueError as err:
                self.log.warning("Ignoring the stored watermark %s: %s; starting from now", self.state_key, err)
        self.watermark = Watermark.starting(datetime.now(timezone.utc))
        if store is None:
            self.log.info(
                "No asset state store (Airflow 3.3+ keeps the watermark there): runs ending while no "
                "triggerer runs are not announced"
            )
        else:
            await self._save_watermark(self.watermark)
        return self.watermark

    async def _save_watermark(self, watermark: Watermark) -> None:
        store = self._store()
        if store is None:
            return
        try:
            await _store_set(store, self.state_key, watermark.to_json())
        except ValueError as err:
            self.log.warning("The watermark stays in memory (%s)", err)


async def _store_get(store: Any, key: str) -> object:
    if hasattr(store, "aget"):
        return await store.aget(key, default=None)
    # Airflow 3.3.0 and 3.3.1 only have the blocking accessors.
    return await asyncio.to_thread(store.get, key, default=None)


async def _store_set(store: Any, key: str, value: dict[str, Any]) -> None:
    if hasattr(store, "aset"):
        await store.aset(key, value)
    else:
        await asyncio.to_thread(store.set, key, value)
