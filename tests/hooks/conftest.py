"""Fixtures for hook tests: both hooks pointed at the emulator, behind one calling interface."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.hooks import FAST_WORKFLOW, SLOW_WORKFLOW, AllLogs, HookClient, StubServer, point_conn

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec


@pytest.fixture
def workflows(emulator: EmulatorServer) -> EmulatorServer:
    """The emulator with a fast workflow (done in well under a second) and a slow one (for cancelling)."""
    emulator.add_workflow(WorkflowSpec(workflow_id=FAST_WORKFLOW, duration_seconds=0.3, queue_seconds=0.05))
    emulator.add_workflow(WorkflowSpec(workflow_id=SLOW_WORKFLOW, duration_seconds=600))
    return emulator


@pytest.fixture(params=["sync", "async"])
def client(request: pytest.FixtureRequest, sixtyfour_conn: str, workflows: EmulatorServer) -> Iterator[HookClient]:
    """A sync or an async hook on the emulator (the test runs once with each)."""
    hook_client = HookClient(request.param, sixtyfour_conn)
    try:
        yield hook_client
    finally:
        hook_client.close()


@pytest.fixture
def make_client(emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HookClient]]:
    """Build hook clients on connections with other settings: ``make_client("sync", max_retries=1)``."""
    made: list[HookClient] = []

    def make(kind: str, base_url: str | None = None, conn_id: str = "sixtyfour_custom", **extra: Any) -> HookClient:
        point_conn(monkeypatch, base_url or emulator.base_url, conn_id, **extra)
        hook_client = HookClient(kind, conn_id)
        made.append(hook_client)
        return hook_client

    try:
        yield make
    finally:
        for hook_client in made:
            hook_client.close()


@pytest.fixture
def client_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., HookClient]]:
    """Hook clients on a connection to any base URL (a hostile server's), without starting the emulator:
    ``client_on("async", server.base_url, timeout=1)``."""
    made: list[HookClient] = []

    def make(kind: str, base_url: str, conn_id: str = "sixtyfour_hostile", **extra: Any) -> HookClient:
        point_conn(monkeypatch, base_url, conn_id, **extra)
        hook_client = HookClient(kind, conn_id)
        made.append(hook_client)
        return hook_client

    try:
        yield make
    finally:
        for hook_client in made:
            hook_client.close()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]) -> AllLogs:
    """Every log line of the test at DEBUG and above (stdlib and Airflow 3 structlog)."""
    caplog.set_level(logging.DEBUG)
    return AllLogs(caplog, capfd)


@pytest.fixture
def stub_server() -> Iterator[Callable[..., StubServer]]:
    """Start :class:`StubServer` instances: ``stub_server((200, "text/html", b"<html>"))``; stopped after the test."""
    started: list[StubServer] = []

    def start(*answers: tuple[int, str, bytes]) -> StubServer:
        server = StubServer(*answers)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
