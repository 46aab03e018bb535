"""Fixtures for the emulator's own tests: a server factory and a client bound to one server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer
from emulator.helpers import TEST_WORKFLOWS, Api


@pytest.fixture
def make_server() -> Iterator[Callable[..., EmulatorServer]]:
    """Start emulators with custom settings (test workflows by default); all are stopped afterwards."""
    servers: list[EmulatorServer] = []

    def make(**kwargs: Any) -> EmulatorServer:
        kwargs.setdefault("api_keys", [TEST_API_KEY])
        kwargs.setdefault("workflows", TEST_WORKFLOWS)
        server = EmulatorServer(**kwargs)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[..., EmulatorServer]) -> EmulatorServer:
    """An emulator serving the test workflows (and no others)."""
    return make_server()


@pytest.fixture
def api(server: EmulatorServer) -> Iterator[Api]:
    client = Api(server.base_url)
    yield client
    client.session.close()
