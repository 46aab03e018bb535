"""A fake Airflow REST API (a tiny aiohttp app on 127.0.0.1) and a running receiver, for the receiver's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from helpers.keys import WEBHOOK_SECRET
from helpers.receiver import AIRFLOW_PASSWORD, AIRFLOW_USER, FakeAirflow, StartReceiver, start_site
from secret_audit import register_secret

from airflow_provider_sixtyfour.webhooks.receiver.service import build_app
from airflow_provider_sixtyfour.webhooks.receiver.settings import ReceiverSettings


@pytest.fixture
async def fake_airflow() -> AsyncIterator[FakeAirflow]:
    register_secret(AIRFLOW_PASSWORD, "the fake Airflow's password")
    fake = FakeAirflow()
    runner, fake.url = await start_site(fake.app())
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def start_receiver(tmp_path: Path, fake_airflow: FakeAirflow) -> AsyncIterator[StartReceiver]:
    """``await start_receiver(**settings)``: a receiver on a free port against the fake Airflow; returns the
    delivery URL. Each call starts another one (same store file unless ``store_path`` says otherwise)."""
    runners: list[web.AppRunner] = []

    async def start(**overrides: Any) -> str:
        options: dict[str, Any] = {
            "secrets": (WEBHOOK_SECRET,),
            "airflow_url": fake_airflow.url,
            "airflow_username": AIRFLOW_USER,
            "airflow_password": AIRFLOW_PASSWORD,
            "store_path": tmp_path / "receiver" / "deliveries.sqlite3",
            "port": 0,
            "deadline": 5.0,
        }
        options.update(overrides)
        settings = ReceiverSettings(**options)
        runner, url = await start_site(build_app(settings))
        runners.append(runner)
        return url + settings.path

    async def stop_all() -> None:
        for runner in runners:
            await runner.cleanup()

    start.stop_all = stop_all  # type: ignore[attr-defined]
    try:
        yield start
    finally:
        await stop_all()
