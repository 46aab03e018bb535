"""The receiver's HTTP service (aiohttp): ``POST <path>`` takes deliveries, ``GET /health`` reports.

Per delivery: verify the signature (``verify_delivery``); drop a duplicate by event id or by run (the
SQLite store); create an asset event on ``sixtyfour://workflows/<workflow_id>`` through Airflow's REST
API; answer 2xx only once Airflow accepted it, and always within the deadline, so that Sixtyfour retries
whatever was not handled. Deliveries of one run are handled one at a time, so concurrent duplicates make
one asset event. A delivery not handled by the deadline is answered 503 while its handling goes on, so
that an event Airflow takes late is still recorded and the retry is dropped as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from airflow_provider_sixtyfour.protocol import webhooks as wire
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, SixtyfourWebhookError
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.webhooks.receiver.airflow_api import AirflowAssets, AirflowError
from airflow_provider_sixtyfour.webhooks.receiver.logs import FIELDS
from airflow_provider_sixtyfour.webhooks.receiver.settings import ReceiverSettings
from airflow_provider_sixtyfour.webhooks.receiver.store import DeliveryStore
from airflow_provider_sixtyfour.webhooks.verify import WebhookDelivery, asset_uri, verify_delivery

log = logging.getLogger("airflow_provider_sixtyfour.webhooks.receiver")

MAX_BODY_BYTES = 16 * 1024 * 1024
HEALTH_PATH = "/health"
#: The asset event's ``extra`` says where it came from.
SOURCE = "sixtyfour-webhook-receiver"
_VERIFY_STATUS = {wire.MALFORMED: 400}


class _RunLocks:
    """One lock per run id, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class Receiver:
    """Handles deliveries with one store and one Airflow client (see the module docstring)."""

    def __init__(self, settings: ReceiverSettings, store: DeliveryStore, airflow: AirflowAssets) -> None:
        self.settings = settings
        self.store = store
        self.airflow = airflow
        self._runs = _RunLocks()
        self._unfinished: set[asyncio.Future[web.Response]] = set()

    async def finish(self) -> None:
        """Wait for deliveries still being handled after their answer's deadline (on shutdown)."""
        await asyncio.gather(*self._unfinished, return_exceptions=True)

    async def deliveries(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            delivery = verify_delivery(
                body,
                request.headers,
                self.settings.secrets,
                tolerance=self.settings.tolerance,
                allow_unsigned=self.settings.allow_unsigned,
            )
        except SixtyfourWebhookError as err:
            _log(logging.WARNING, "delivery refused: %s", str(err), outcome="refused", reason=err.reason)
            return _answer(_VERIFY_STATUS.get(err.reason, 401), error=err.reason)
        task = asyncio.ensure_future(self._handle(delivery))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.settings.deadline)
        except asyncio.TimeoutError:
            # The work goes on: if Airflow takes the event after all, it is recorded, and Sixtyfour's retry
            # (which waits for this run's lock) is then dropped as a duplicate instead of a second event.
            self._unfinished.add(task)
            task.add_done_callback(self._unfinished.discard)
            _log(
                logging.WARNING,
                "delivery %s of run %s not handled within %.1f s; answering 503 so Sixtyfour retries",
                delivery.event_id,
                delivery.run_id,
                self.settings.deadline,
                delivery=delivery,
                outcome="deadline",
            )
            return _answer(503, error="deadline")

    async def _handle(self, delivery: WebhookDelivery) -> web.Response:
        async with self._runs.hold(delivery.run_id):
            duplicate = await asyncio.to_thread(self.store.duplicate_of, delivery.event_id, delivery.run_id)
            if duplicate is not None:
                await asyncio.to_thread(self._record, delivery, "duplicate")
                _log(
                    logging.INFO,
                    "delivery %s of run %s is a duplicate (same %s); no new asset event",
                    delivery.event_id,
                    delivery.run_id,
                    duplicate,
                    delivery=delivery,
                    outcome="duplicate",
                    duplicate_by=duplicate,
                )
                return _answer(200, result="duplicate", by=duplicate)
            status = RunStatus.parse(delivery.status).value if delivery.status else None
            if status not in self.settings.statuses:
                await asyncio.to_thread(self._record, delivery, "ignored")
                _log(
                    logging.INFO,
                    "delivery %s of run %s has status %s, which creates no asset event",
                    delivery.event_id,
                    delivery.run_id,
                    status,
                    delivery=delivery,
                    outcome="ignored",
                )
                return _answer(200, result="ignored", status=status)
            if not delivery.workflow_id:
                _log(logging.ERROR, "delivery %s names no workflow_id", delivery.event_id, delivery=delivery)
                return _answer(422, error="no_workflow_id")
            return await self._announce(delivery)

    async def _announce(self, delivery: WebhookDelivery) -> web.Response:
        assert delivery.workflow_id is not None
        try:
            uri = asset_uri(delivery.workflow_id)
        except SixtyfourInputError as err:
            _log(logging.ERROR, "delivery %s: %s", delivery.event_id, err, delivery=delivery)
            return _answer(422, error="bad_workflow_id")
        extra: dict[str, Any] = {**delivery.summary(), "source": SOURCE}
        try:
            asset_event_id = await self.airflow.create_event(uri, extra)
        except AirflowError as err:
            _log(
                logging.WARNING,
                "Airflow did not take the asset event of delivery %s (%s): %s",
                delivery.event_id,
                err.kind,
                str(err),
                delivery=delivery,
                outcome=f"airflow_{err.kind}",
            )
            return _answer(502 if err.kind in ("rejected", "not_found") else 503, error=f"airflow_{err.kind}")
        await asyncio.to_thread(self._record, delivery, "accepted", asset_event_id)
        _log(
            logging.INFO,
            "delivery %s of run %s: asset event %s on %s",
            delivery.event_id,
            delivery.run_id,
            asset_event_id,
            uri,
            delivery=delivery,
            outcome="accepted",
            asset_event_id=asset_event_id,
        )
        return _answer(200, result="accepted", asset_event_id=asset_event_id)

    def _record(self, delivery: WebhookDelivery, outcome: str, asset_event_id: int | None = None) -> None:
        self.store.record(
            delivery.event_id, delivery.run_id, delivery.workflow_id, delivery.status, outcome, asset_event_id
        )

    async def health(self, request: web.Request) -> web.Response:
        healthy = await asyncio.to_thread(self.store.healthy)
        return _answer(200 if healthy else 503, status="ok" if healthy else "store_unavailable")


def _answer(http_status: int, **body: Any) -> web.Response:
    return web.json_response(body, status=http_status)


def _log(level: int, message: str, *args: Any, delivery: WebhookDelivery | None = None, **fields: Any) -> None:
    data = dict(fields)
    if delivery is not None:
        data.update(
            event_id=delivery.event_id,
            run_id=delivery.run_id,
            workflow_id=delivery.workflow_id,
            attempt=delivery.attempt,
            status=delivery.status,
        )
    log.log(level, message, *args, extra={FIELDS: data})


def build_app(settings: ReceiverSettings, store: DeliveryStore | None = None) -> web.Application:
    """The receiver's aiohttp app; it opens the store (unless given) and closes it and its HTTP session."""
    own_store = store is None
    store = store or DeliveryStore(settings.store_path)
    airflow = AirflowAssets(
        settings.airflow_url,
        username=settings.airflow_username,
        password=settings.airflow_password,
        token=settings.airflow_token,
        timeout=wire.RECEIVER_DEADLINE_SECONDS,
    )
    receiver = Receiver(settings, store, airflow)
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(settings.path, receiver.deliveries)
    app.router.add_get(HEALTH_PATH, receiver.health)

    async def cleanup(_app: web.Application) -> None:
        await receiver.finish()
        await airflow.close()
        if own_store:
            store.close()

    app.on_cleanup.append(cleanup)
    return app
