"""Subscriptions and the fan-out of a watched run: order, waiting, unsubscribing, progress de-duplication."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from airflow_provider_sixtyfour.protocol.models import LiveStatus, RunRecord
from airflow_provider_sixtyfour.triggers.mailbox import ListSubscription, Subscription, WatchedRun
from airflow_provider_sixtyfour.triggers.updates import DEADLINE_REACHED, Failed, Progress, Retrying

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def record(status: str) -> RunRecord:
    return RunRecord.from_api({"job_id": "j", "workflow_id": "wf", "status": status, "queued_at": T0.isoformat()})


def live(status: str, pct: float) -> LiveStatus:
    data = {"run_id": "j", "workflow_id": "wf", "overall_status": status, "overall_progress_percentage": pct}
    return LiveStatus.from_api(data)


async def test_updates_come_out_in_the_order_they_were_put() -> None:
    sub = Subscription("j", 1.0)
    updates = [DEADLINE_REACHED, Retrying(RuntimeError("x"), 2.0), Failed(RuntimeError("y"))]
    for update in updates:
        sub.put(update)
    assert sub.pending == 3
    assert [await sub.get() for _ in updates] == updates
    assert sub.pending == 0


async def test_get_waits_for_the_next_put() -> None:
    sub = Subscription("j", 1.0)
    waiting = asyncio.ensure_future(sub.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    asyncio.get_running_loop().call_soon(sub.put, DEADLINE_REACHED)
    assert await waiting is DEADLINE_REACHED


def test_unsubscribing_tells_the_poller_once_and_drops_what_is_pending() -> None:
    closed: list[object] = []

    class Poller:
        def remove(self, sub: object) -> None:
            closed.append(sub)

    sub = ListSubscription(["wf-a", "wf-a", "wf-b"], 5.0, Poller())
    assert sub.workflow_ids == frozenset({"wf-a", "wf-b"})
    sub.put(Failed(RuntimeError("x")))
    sub.unsubscribe()
    sub.unsubscribe()
    assert closed == [sub]
    assert sub.closed
    assert sub.pending == 0


def test_a_watched_run_fans_out_to_every_subscription_until_the_last_leaves() -> None:
    first, second = Subscription("j", 1.0), Subscription("j", 2.0)
    run = WatchedRun("j", first)
    run.add(second)
    run.send(DEADLINE_REACHED)
    assert (first.pending, second.pending) == (1, 1)
    assert not run.discard(first)
    run.send(DEADLINE_REACHED)
    assert (first.pending, second.pending) == (1, 2)
    assert run.discard(second)


async def test_list_records_are_passed_on_only_when_the_status_moves_and_live_status_always() -> None:
    sub = Subscription("j", 1.0)
    run = WatchedRun("j", sub)
    for update in (record("queued"), record("queued"), record("running"), live("running", 10), live("running", 10)):
        run.progress(update)
    got = [await sub.get() for _ in range(sub.pending)]
    assert all(isinstance(u, Progress) for u in got)
    described = [(type(u.record).__name__, u.record.status.value) for u in got if isinstance(u, Progress)]
    assert described == [
        ("RunRecord", "queued"),
        ("RunRecord", "running"),
        ("LiveStatus", "running"),
        ("LiveStatus", "running"),
    ]
