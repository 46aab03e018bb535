"""The emulator's outgoing webhooks: when a run of a workflow with an ``outgoing_webhook`` block ends, POST
one signed delivery to its URL, as the vendor does.

A delivery carries the documented headers (``Sixtyfour-Event-Id``, ``Sixtyfour-Event-Type``,
``Sixtyfour-Delivery-Attempt`` and, with a signing secret, ``Sixtyfour-Signature``) and a JSON envelope:
``event_id``, ``event_type``, ``run_id``, ``workflow_id``, ``status``, ``completed_at``, ``error_message``,
``metrics``, ``results`` (the final file's rows inline when it is small) and ``results_download_url`` (a
signed URL of the emulator's own storage). A non-2xx answer, or none within ``timeout_seconds``, is
retried with doubling waits. Faults on :data:`~.faults.OUTGOING_WEBHOOK_ROUTE` drop, duplicate, delay or
reorder deliveries. Secrets and signed URLs are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_sixtyfour.emulator.clock import iso
from airflow_provider_sixtyfour.emulator.faults import OUTGOING_WEBHOOK_ROUTE, FaultRule
from airflow_provider_sixtyfour.emulator.runs import Run
from airflow_provider_sixtyfour.emulator.webhook_settings import WebhookSettings
from airflow_provider_sixtyfour.protocol import webhooks as wire
from airflow_provider_sixtyfour.protocol.redaction import url_host

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.emulator.core import EmulatorCore

log = logging.getLogger(__name__)

_TRY_FAULTS = frozenset({"drop", "duplicate", "delay"})
_POLL_SECONDS = 0.25
DROPPED, LOST = "dropped", "lost"


@dataclass(frozen=True)
class DeliveryAttempt:
    """One try of one delivery, as the emulator saw it (no secret, no signed URL).

    :param outcome: the receiver's HTTP status as text, ``"lost"`` (no answer in time, or the connection
        failed) or ``"dropped"`` (a ``drop`` fault: never sent).
    :param signatures: how many ``v1=`` values the try carried (0: unsigned, 2: during a rotation).
    :param copies: 2 when a ``duplicate`` fault sent the try twice.
    """

    event_id: str
    run_id: str
    workflow_id: str
    attempt: int
    outcome: str
    signatures: int
    copies: int = 1

    @property
    def accepted(self) -> bool:
        return self.outcome.isdigit() and 200 <= int(self.outcome) < 300


class WebhookDispatcher:
    """Sends the deliveries of one emulator (on its event loop).

    :param core: the emulator whose runs, storage signer, result files and faults it uses.
    :param settings: signing secrets and retry schedule.
    """

    def __init__(self, core: EmulatorCore, settings: WebhookSettings | None = None) -> None:
        self.core = core
        self.settings = settings or WebhookSettings()
        self.rotated_at = time.time()
        self.attempts: list[DeliveryAttempt] = []
        self.given_up: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: Any = None
        self._sent: asyncio.Event | None = None

    # ---- settings --------------------------------------------------------------------------------

    def rotate(self, new_secret: str, overlap_seconds: float) -> None:
        """Start signing with ``new_secret``; the current one keeps signing for ``overlap_seconds``."""
        self.settings = replace(
            self.settings,
            signing_secret=new_secret,
            previous_signing_secret=self.settings.signing_secret,
            rotation_overlap_seconds=overlap_seconds,
        )
        self.rotated_at = time.time()

    def signing_secrets(self) -> tuple[str, ...]:
        """The secrets that sign a delivery sent now, the new first."""
        return self.settings.secrets_at(time.time() - self.rotated_at)

    # ---- life cycle ------------------------------------------------------------------------------

    def schedule(self, run: Run, base_url: str) -> None:
        """Deliver ``run``'s end to its workflow's ``outgoing_webhook`` URL, if it has one (call on the loop)."""
        hook = run.spec.outgoing_webhook
        if hook is None:
            return
        task = asyncio.get_running_loop().create_task(self._deliver(run, hook.url, base_url))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_pending(self) -> None:
        """Forget deliveries not yet done, and the record of past ones (``reset``)."""
        for task in list(self._tasks):
            task.cancel()
        self.attempts.clear()
        self.given_up.clear()

    async def close(self, _app: object = None) -> None:
        """Cancel pending deliveries and close the HTTP session (the app's cleanup)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    def describe(self) -> list[dict[str, Any]]:
        """Every try so far (for ``stats`` and tests)."""
        return [asdict(attempt) for attempt in self.attempts]

    # ---- one delivery ----------------------------------------------------------------------------

    async def _deliver(self, run: Run, url: str, base_url: str) -> None:
        while not run.is_terminal(time.time()):
            # end_at moves earlier when the run is cancelled, so wait in short steps.
            await asyncio.sleep(min(max(run.end_at - time.time(), 0.01), _POLL_SECONDS))
        event_id = f"evt_{uuid.uuid4().hex}"
        status = run.status(time.time())
        event_type = wire.event_type_for(status)
        body = await self._envelope(run, event_id, event_type, base_url)
        reorder = self._draw(frozenset({"reorder"}))
        if reorder is not None:
            await self._hold(reorder.seconds)
        attempts = self.settings.max_attempts
        for attempt in range(1, attempts + 1):
            if await self._try(run, url, event_id, event_type, attempt, body):
                return
            if attempt < attempts:
                await asyncio.sleep(self.settings.backoff(attempt))
        self.given_up.append(event_id)
        log.warning("Gave up delivering webhook event %s after %d tries to %s", event_id, attempts, url_host(url))

    async def _envelope(self, run: Run, event_id: str, event_type: str, base_url: str) -> bytes:
        core = self.core
        now = time.time()
        record = run.record(now)
        files = run.result_files(now, "csv", run.spec.result_bytes)
        results: list[dict[str, str]] | None = None
        download_url: str | None = None
        if files:
            final = max(files, key=lambda file: file.block_number)
            layout = await asyncio.get_running_loop().run_in_executor(None, core.files.layout, final)
            results = core.files.inline_results(final, layout)
            download_url = core.signer.sign(base_url, core.bucket, run.job_id, final.filename, core.link_ttl)
        envelope = {
            "event_id": event_id,
            "event_type": event_type,
            "created_at": iso(now),
            "run_id": run.job_id,
            "workflow_id": run.spec.workflow_id,
            "status": record["status"],
            "completed_at": record["completed_at"],
            "error_message": record["error_message"],
            "metrics": record["metrics"],
            "results": results,
            "results_download_url": download_url,
        }
        return json.dumps(envelope, separators=(",", ":")).encode()

    async def _try(self, run: Run, url: str, event_id: str, event_type: str, attempt: int, body: bytes) -> bool:
        secrets = self.signing_secrets()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "sixtyfour-emulator-webhooks",
            wire.EVENT_ID_HEADER: event_id,
            wire.EVENT_TYPE_HEADER: event_type,
            wire.ATTEMPT_HEADER: str(attempt),
        }
        if secrets:
            headers[wire.SIGNATURE_HEADER] = wire.signature_header(secrets, int(time.time()), body)
        rule = self._draw(_TRY_FAULTS)
        copies = 1
        if rule is not None and rule.kind == "delay":
            await asyncio.sleep(rule.seconds)
        if rule is not None and rule.kind == "drop":
            outcome = DROPPED
        else:
            copies = 2 if rule is not None and rule.kind == "duplicate" else 1
            answers = await asyncio.gather(*(self._post(url, body, headers) for _ in range(copies)))
            accepted = [a for a in answers if a.isdigit() and 200 <= int(a) < 300]
            outcome = accepted[0] if accepted else answers[0]
            self._announce_sent()
        record = DeliveryAttempt(event_id, run.job_id, run.spec.workflow_id, attempt, outcome, len(secrets), copies)
        self.attempts.append(record)
        log.info("Webhook event %s (run %s) try %d to %s: %s", event_id, run.job_id, attempt, url_host(url), outcome)
        return record.accepted

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> str:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.settings.timeout_seconds))
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as response:
                await response.read()
                return str(response.status)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            return LOST

    # ---- faults ----------------------------------------------------------------------------------

    def _draw(self, kinds: frozenset[str]) -> FaultRule | None:
        faults = self.core.faults
        if not faults.may_fire(OUTGOING_WEBHOOK_ROUTE):
            return None
        rule = faults.draw(OUTGOING_WEBHOOK_ROUTE, "POST", kinds)
        if rule is not None:
            self.core.stats.faults[rule.kind] += 1
        return rule

    def _sent_event(self) -> asyncio.Event:
        if self._sent is None:
            self._sent = asyncio.Event()
        return self._sent

    def _announce_sent(self) -> None:
        event = self._sent_event()
        self._sent = asyncio.Event()
        event.set()

    async def _hold(self, seconds: float) -> None:
        """Wait until another delivery was sent, at most ``seconds``: later deliveries overtake this one."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._sent_event().wait(), seconds)
