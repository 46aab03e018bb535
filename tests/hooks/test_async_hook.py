"""The async hook: one client for its life, 200 concurrent calls, and an event loop that never blocks."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from helpers.hooks import SLOW_WORKFLOW

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.hooks import transport_async
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook, SixtyfourHook
from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS, LIVE_STATUS

CONCURRENT_CALLS = 200


async def _track_connections(hook: SixtyfourAsyncHook) -> set[tuple[str, int]]:
    """The local (address, port) of every connection the hook's client answers on."""
    client = (await hook.get_transport()).client
    seen: set[tuple[str, int]] = set()

    async def on_response(response: Any) -> None:
        stream = response.extensions.get("network_stream")
        if stream is not None:
            seen.add(tuple(stream.get_extra_info("client_addr")))

    client.event_hooks["response"].append(on_response)
    return seen


def test_200_concurrent_calls_share_one_client(sixtyfour_conn: str, workflows: EmulatorServer) -> None:
    with SixtyfourHook(sixtyfour_conn) as sync_hook:
        job_ids = [sync_hook.run_workflow(SLOW_WORKFLOW, [{"name": f"lead {i}"}]).job_id for i in range(5)]

    async def main() -> tuple[list[Any], int, int, float]:
        async with SixtyfourAsyncHook(sixtyfour_conn) as hook:
            client = (await hook.get_transport()).client
            ports = await _track_connections(hook)
            calls = [
                hook.list_runs(status="active", limit=500) if i % 4 == 0 else hook.get_live_status(job_ids[i % 5])
                for i in range(CONCURRENT_CALLS)
            ]
            began = time.perf_counter()
            results = await asyncio.gather(*calls)
            elapsed = time.perf_counter() - began
            assert (await hook.get_transport()).client is client
            return results, len(ports), id(client), elapsed

    results, connections, _, elapsed = asyncio.run(main())
    print(
        f"\n{CONCURRENT_CALLS} concurrent async calls: {elapsed:.2f} s, "
        f"{CONCURRENT_CALLS / elapsed:.0f} calls/s, {connections} TCP connections"
    )
    assert len(results) == CONCURRENT_CALLS
    for i, result in enumerate(results):
        if i % 4 == 0:
            assert {r.job_id for r in result} >= set(job_ids)
        else:
            assert result.job_id == job_ids[i % 5]
    assert 1 <= connections <= transport_async.MAX_CONNECTIONS
    assert workflows.request_count(LIST_RUNS) == CONCURRENT_CALLS // 4
    assert workflows.request_count(LIVE_STATUS) == CONCURRENT_CALLS - CONCURRENT_CALLS // 4


def test_first_use_from_many_tasks_creates_one_client(
    sixtyfour_conn: str, workflows: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[object] = []
    original_init = transport_async.AsyncTransport.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        created.append(self)
        original_init(self, *args, **kwargs)

    monkeypatch.setattr(transport_async.AsyncTransport, "__init__", counting_init)

    async def main() -> None:
        hook = SixtyfourAsyncHook(sixtyfour_conn)  # not entered: the client is made on first use
        try:
            await asyncio.gather(*(hook.list_workflows() for _ in range(50)))
        finally:
            await hook.aclose()

    asyncio.run(main())
    assert len(created) == 1


def test_aclose_then_reuse(sixtyfour_conn: str, workflows: EmulatorServer) -> None:
    async def main() -> None:
        hook = SixtyfourAsyncHook(sixtyfour_conn)
        first = await hook.get_transport()
        assert await hook.list_workflows()
        await hook.aclose()
        assert first.client.is_closed
        assert await hook.list_workflows()
        second = await hook.get_transport()
        assert second is not first
        await hook.aclose()

    asyncio.run(main())


def test_settings_before_loading_say_how(sixtyfour_conn: str) -> None:
    hook = SixtyfourAsyncHook(sixtyfour_conn)
    with pytest.raises(RuntimeError, match="async with SixtyfourAsyncHook"):
        _ = hook.settings


def test_connection_lookup_does_not_block_the_loop(sixtyfour_conn: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Airflow 3: ``aget_connection`` only. Airflow 2: the blocking lookup runs in a worker thread."""
    from airflow.providers.common.compat.sdk import BaseHook

    lookups: list[int] = []
    original = BaseHook.get_connection

    def spy(cls: Any, conn_id: str) -> Any:
        lookups.append(threading.get_ident())
        return original(conn_id)

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(spy))

    async def main() -> int:
        async with SixtyfourAsyncHook(sixtyfour_conn) as hook:
            assert hook.settings.api_key
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    if hasattr(BaseHook, "aget_connection"):
        assert lookups == []
    else:
        assert lookups
        assert loop_thread not in lookups


def test_waits_and_slow_answers_never_block_the_loop(
    sixtyfour_conn: str, workflows: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflows.add_fault(FaultRule(route=LIST_RUNS, kind="status", status=429, retry_after=1, count=1))
    workflows.add_fault(FaultRule(route=LIST_RUNS, kind="delay", seconds=0.5, count=1))

    async def main() -> int:
        ticks = 0
        done = asyncio.Event()

        async def ticker() -> None:
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        async with SixtyfourAsyncHook(sixtyfour_conn) as hook:
            tick_task = asyncio.create_task(ticker())
            await hook.list_runs(status="active")
            done.set()
            await tick_task
        return ticks

    ticks = asyncio.run(main())
    print(f"\nticker ran {ticks} times during a 1 s Retry-After and a 0.5 s slow answer")
    # A blocked loop would tick once or twice in 1.5 s; a free one about 150 times.
    assert ticks > 30
    assert workflows.request_count(LIST_RUNS) == 2
