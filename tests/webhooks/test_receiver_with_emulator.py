"""The emulator's outgoing webhooks into the receiver, and the receiver into a fake Airflow: all real HTTP."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from helpers.keys import TEST_API_KEY, WEBHOOK_OLD_SECRET, WEBHOOK_SECRET
from helpers.receiver import FakeAirflow, StartReceiver

from airflow_provider_sixtyfour.emulator import (
    OUTGOING_WEBHOOK_ROUTE,
    EmulatorServer,
    FaultRule,
    WebhookSettings,
    WorkflowSpec,
)

WORKFLOW = "wf-test-hooked"


async def _attempts_until(server: EmulatorServer, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        attempts = await asyncio.to_thread(server.webhook_attempts)
        if done(attempts):
            return attempts
        if time.monotonic() > deadline:
            raise AssertionError(f"deliveries not done after {timeout:.0f}s: {attempts}")
        await asyncio.sleep(0.05)


async def _start(server: EmulatorServer) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{server.base_url}/workflows/run", params={"workflow_id": WORKFLOW}, headers={"x-api-key": TEST_API_KEY}
        ) as answer,
    ):
        assert answer.status == 200
        return str((await answer.json())["job_id"])


async def test_emulator_deliveries_retried_and_duplicated_make_one_event_per_run(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver(secrets=(WEBHOOK_OLD_SECRET,))  # not rotated yet: the old secret only
    spec = WorkflowSpec(workflow_id=WORKFLOW, duration_seconds=0.2, queue_seconds=0.0, outgoing_webhook={"url": url})
    settings = WebhookSettings(
        signing_secret=WEBHOOK_SECRET,
        previous_signing_secret=WEBHOOK_OLD_SECRET,
        rotation_overlap_seconds=3600,
        backoff_seconds=0.05,
        timeout_seconds=8,
    )
    server = EmulatorServer(api_keys=[TEST_API_KEY], workflows=[spec], webhooks=settings)
    await asyncio.to_thread(server.start)
    try:
        # Airflow refuses the first event: the receiver answers 503 and the emulator retries.
        fake_airflow.fail_events = 1
        first = await _start(server)
        attempts = await _attempts_until(server, lambda a: any(x["outcome"] == "200" for x in a))
        assert [(a["run_id"], a["attempt"], a["outcome"]) for a in attempts] == [(first, 1, "503"), (first, 2, "200")]
        assert all(a["signatures"] == 2 for a in attempts)
        # A duplicated try of the next run still makes one event.
        server.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="duplicate", count=1))
        second = await _start(server)
        attempts = await _attempts_until(server, lambda a: any(x["run_id"] == second for x in a))
        assert attempts[-1]["copies"] == 2
        assert attempts[-1]["outcome"] == "200"
        assert [e["extra"]["run_id"] for e in fake_airflow.events] == [first, second]
        assert {e["extra"]["attempt"] for e in fake_airflow.events} == {1, 2}
    finally:
        await asyncio.to_thread(server.stop)
