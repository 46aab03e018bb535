"""The run-event watcher against the emulator, with runs started straight over HTTP (not through Airflow)."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS
from airflow_provider_sixtyfour.triggers.poller import loop_pollers
from airflow_provider_sixtyfour.triggers.sixtyfour import (
    SixtyfourWorkflowRunEventTrigger,
    SixtyfourWorkflowRunTrigger,
)

# A guard against a hung test, never an assertion on speed.
HANG_GUARD = 60.0
INTERVAL = 0.2


def start_run(emulator: EmulatorServer, workflow_id: str) -> str:
    """``POST /workflows/run`` with the key, as the Sixtyfour app or a CRM would: no Airflow involved."""
    request = urllib.request.Request(
        f"{emulator.base_url}/workflows/run?workflow_id={workflow_id}",
        data=json.dumps({"webhook_payload": [{"email": "ada@example.com"}]}).encode(),
        method="POST",
        headers={"x-api-key": TEST_API_KEY, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return str(json.loads(answer.read())["job_id"])


def cancel_run(emulator: EmulatorServer, job_id: str) -> None:
    request = urllib.request.Request(
        f"{emulator.base_url}/workflows/cancel?job_id={job_id}", data=b"{}", method="POST",
        headers={"x-api-key": TEST_API_KEY, "Content-Type": "application/json"},
    )  # fmt: skip
    urllib.request.urlopen(request, timeout=10).close()


def ended(emulator: EmulatorServer, job_id: str) -> bool:
    run = emulator.get_run(job_id)
    return run is not None and run["status"] in ("completed", "failed", "cancelled")


class JsonStateStore:
    """Airflow 3.3's asset state store accessor as a trigger sees it (``aget``/``aset`` of JSON values),
    kept in a dict: the triggerer's real one is exercised by the end-to-end test."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)
        self.writes += 1


class Watching:
    """Runs a watcher in a task and keeps every event payload it yields."""

    def __init__(self, trigger: SixtyfourWorkflowRunEventTrigger) -> None:
        self.trigger = trigger
        self.events: list[dict[str, Any]] = []
        self.task = asyncio.create_task(self._consume(trigger.run()))

    async def _consume(self, events: AsyncIterator[Any]) -> None:
        async for event in events:
            self.events.append(dict(event.payload))

    async def stop(self) -> None:
        """As a triggerer restart does: the watcher's task is cancelled."""
        self.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await self.task

    def job_ids(self) -> list[str]:
        return [e["job_id"] for e in self.events]


async def until(condition: Any, what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what}"
        await asyncio.sleep(0.05)


async def more_list_calls(emulator: EmulatorServer, count: int) -> None:
    """Wait until the poller has listed runs ``count`` more times (each watcher has seen those lists)."""
    target = emulator.request_count(LIST_RUNS) + count
    await until(lambda: emulator.request_count(LIST_RUNS) >= target, f"{count} more run lists")


async def watching(trigger: SixtyfourWorkflowRunEventTrigger, emulator: EmulatorServer) -> Watching:
    """Start a watcher and wait until it has seen its first list (it is watching from then on)."""
    watcher = Watching(trigger)
    await more_list_calls(emulator, 1)
    return watcher


@pytest.fixture
def workflows(emulator: EmulatorServer) -> dict[str, str]:
    specs = {
        "watched": WorkflowSpec(workflow_id="wf-watched", duration_seconds=0.6, queue_seconds=0.05),
        "other": WorkflowSpec(workflow_id="wf-other", duration_seconds=0.6, queue_seconds=0.05),
        "failing": WorkflowSpec(workflow_id="wf-failing", duration_seconds=0.6, queue_seconds=0.05, outcome="failed"),
        "slow": WorkflowSpec(workflow_id="wf-slow", duration_seconds=120, queue_seconds=0.05),
    }
    for spec in specs.values():
        emulator.add_workflow(spec)
    return {name: spec.workflow_id for name, spec in specs.items()}


def watcher(workflow_ids: str | list[str], **kwargs: Any) -> SixtyfourWorkflowRunEventTrigger:
    kwargs.setdefault("poll_interval", INTERVAL)
    return SixtyfourWorkflowRunEventTrigger(workflow_id=workflow_ids, **kwargs)


async def test_n_runs_give_exactly_n_events_and_nothing_else_gives_one(
    sixtyfour_conn: str, emulator: EmulatorServer, workflows: dict[str, str]
) -> None:
    before_start = start_run(emulator, workflows["watched"])
    await until(lambda: ended(emulator, before_start), "a run that ends before the watcher starts")
    watch = await watching(watcher([workflows["watched"], workflows["failing"], workflows["slow"]]), emulator)

    wanted = [start_run(emulator, workflows["watched"]) for _ in range(5)]
    unwanted = [start_run(emulator, workflows["other"]), start_run(emulator, workflows["failing"])]
    cancelled = start_run(emulator, workflows["slow"])
    await more_list_calls(emulator, 1)
    cancel_run(emulator, cancelled)
    await until(lambda: all(ended(emulator, j) for j in [*wanted, *unwanted, cancelled]), "every run to end")
    await more_list_calls(emulator, 3)

    assert sorted(watch.job_ids()) == sorted(wanted)
    assert len(watch.events) == 5
    for event in watch.events:
        assert event["workflow_id"] == workflows["watched"]
        assert event["status"] == "completed"
        assert event["completed_at"]
        assert event["error_message"] is None
        assert event["run_url"].endswith(f"/workflows/runs/{event['job_id']}")
        assert event["metrics"]["blocks_count"] == 3
        assert event["metrics"]["rows_in"] == 1
        text = json.dumps(event)
        assert json.loads(text) == event
        assert TEST_API_KEY not in text
        assert "signature" not in text
    # Announced in the order the runs ended.
    assert [e["completed_at"] for e in watch.events] == sorted(e["completed_at"] for e in watch.events)
    await watch.stop()
    assert loop_pollers().running() == []


async def test_failed_and_cancelled_runs_fire_when_asked_for_with_the_reason(
    sixtyfour_conn: str, emulator: EmulatorServer, workflows: dict[str, str]
) -> None:
    trigger = watcher([workflows["failing"], workflows["slow"], workflows["watched"]], statuses=["failed", "canceled"])
    watch = await watching(trigger, emulator)
    failed, cancelled = start_run(emulator, workflows["failing"]), start_run(emulator, workflows["slow"])
    completed = start_run(emulator, workflows["watched"])
    await more_list_calls(emulator, 1)
    cancel_run(emulator, cancelled)
    await until(lambda: len(watch.events) >= 2, "two events")
    await until(lambda: ended(emulator, completed), "the completed run")
    await more_list_calls(emulator, 2)
    by_job = {e["job_id"]: e for e in watch.events}
    assert set(by_job) == {failed, cancelled}
    assert by_job[failed]["status"] == "failed"
    assert by_job[failed]["error_message"] == "Enrichment provider returned an error for this batch"
    assert by_job[cancelled]["status"] == "cancelled"
    await watch.stop()


async def test_a_restart_mid_stream_resumes_from_the_stored_watermark(
    sixtyfour_conn: str, emulator: EmulatorServer, workflows: dict[str, str]
) -> None:
    store = JsonStateStore()

    def instance() -> SixtyfourWorkflowRunEventTrigger:
        # What a triggerer does: rebuild the trigger from its serialized kwargs, inject the asset's store.
        _, kwargs = watcher(workflows["watched"]).serialize()
        trigger = SixtyfourWorkflowRunEventTrigger(**kwargs)
        trigger.asset_state_store = store  # type: ignore[assignment]
        return trigger

    first = await watching(instance(), emulator)
    assert store.writes == 1  # the start is stored at once: a restart before any run ends keeps it
    early = [start_run(emulator, workflows["watched"]) for _ in range(2)]
    await until(lambda: len(first.events) == 2, "the first two events")
    await first.stop()

    # No triggerer runs while these end.
    while_down = [start_run(emulator, workflows["watched"]) for _ in range(3)]
    await until(lambda: all(ended(emulator, j) for j in while_down), "the runs that end while down")

    second = await watching(instance(), emulator)
    after = start_run(emulator, workflows["watched"])
    await until(lambda: ended(emulator, after), "the run after the restart")
    await more_list_calls(emulator, 3)
    await second.stop()

    assert sorted(first.job_ids()) == sorted(early)
    assert sorted(second.job_ids()) == sorted([*while_down, after])


async def test_without_a_state_store_a_restart_never_repeats_and_skips_what_ended_while_down(
    sixtyfour_conn: str, emulator: EmulatorServer, workflows: dict[str, str]
) -> None:
    first = await watching(watcher(workflows["watched"]), emulator)
    early = start_run(emulator, workflows["watched"])
    await until(lambda: len(first.events) == 1, "the first event")
    await first.stop()
    while_down = start_run(emulator, workflows["watched"])
    await until(lambda: ended(emulator, while_down), "the run that ends while down")

    second = await watching(watcher(workflows["watched"]), emulator)
    after = start_run(emulator, workflows["watched"])
    await until(lambda: len(second.events) == 1, "the event after the restart")
    await more_list_calls(emulator, 2)
    await second.stop()
    assert first.job_ids() == [early]
    assert second.job_ids() == [after]


async def test_watchers_and_deferred_tasks_of_one_connection_share_one_list_call_per_interval(
    sixtyfour_conn: str, emulator: EmulatorServer, workflows: dict[str, str]
) -> None:
    one = Watching(watcher(workflows["watched"]))
    two = Watching(watcher([workflows["other"], workflows["failing"]], statuses=["completed", "failed"]))
    # Two deferred tasks on slow runs (more than one run: the run triggers use the list too).
    slow = [start_run(emulator, workflows["slow"]) for _ in range(2)]
    deferred = [
        asyncio.create_task(SixtyfourWorkflowRunTrigger(job_id=j, poll_interval=INTERVAL).run().__anext__())
        for j in slow
    ]
    await more_list_calls(emulator, 2)
    assert len(loop_pollers().running()) == 1

    window_start, lists_before = time.monotonic(), emulator.request_count(LIST_RUNS)
    runs = [start_run(emulator, workflows[name]) for name in ("watched", "other", "failing")]
    await until(lambda: len(one.events) == 1 and len(two.events) == 2, "the three events")
    await more_list_calls(emulator, 10)
    lists, elapsed = emulator.request_count(LIST_RUNS) - lists_before, time.monotonic() - window_start

    # The poller lists at most once per interval, however many watchers and tasks it serves
    # (a slow machine only makes fewer lists; one poller per watcher would make twice as many).
    assert lists <= elapsed / INTERVAL + 1
    assert one.job_ids() == [runs[0]]
    assert sorted(two.job_ids()) == sorted(runs[1:])
    for task in deferred:
        assert not task.done()  # the deferred tasks still wait on their slow runs
        task.cancel()
    await one.stop()
    await two.stop()


async def test_a_refused_key_ends_the_watcher_with_an_error_that_hides_the_key(
    emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.connections import sixtyfour_connection_uri_json

    from airflow_provider_sixtyfour.triggers.run_events import SixtyfourWatcherError

    monkeypatch.setenv(
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(emulator.base_url, "sk-wrong-key-000000")
    )
    events = watcher("wf-demo-webhook").run()
    with pytest.raises(SixtyfourWatcherError, match="401") as raised:
        await asyncio.wait_for(events.__anext__(), HANG_GUARD)
    assert "sk-wrong-key-000000" not in str(raised.value)


async def test_a_missing_connection_ends_the_watcher_saying_how_to_fix_it(sixtyfour_conn: str) -> None:
    from airflow_provider_sixtyfour.triggers.run_events import SixtyfourWatcherError

    events = watcher("wf-demo-webhook", sixtyfour_conn_id="no_such_conn").run()
    with pytest.raises(SixtyfourWatcherError, match="AIRFLOW_CONN_NO_SUCH_CONN"):
        await asyncio.wait_for(events.__anext__(), HANG_GUARD)
