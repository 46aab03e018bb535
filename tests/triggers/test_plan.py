"""``plan()``: what the shared poller asks each cycle, decided from runs, listings and the cycle; no HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow_provider_sixtyfour.protocol.models import RunRecord
from airflow_provider_sixtyfour.triggers.plan import (
    FALLBACK_CALLS_PER_CYCLE,
    PROGRESS_CALLS_PER_CYCLE,
    PROGRESS_EVERY_CYCLES,
    WORKFLOW_LISTS_PER_CYCLE,
    Listing,
    RunState,
    learn,
    needs_active_list,
    plan,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def record(job_id: str, queued_at: datetime = T0, status: str = "running", workflow_id: str = "wf-a") -> RunRecord:
    return RunRecord.from_api(
        {"job_id": job_id, "workflow_id": workflow_id, "status": status, "queued_at": queued_at.isoformat()}
    )


def ids(states: tuple[RunState, ...]) -> list[str]:
    return [s.job_id for s in states]


# ---- what a listing proves ------------------------------------------------------------------------


def test_a_short_list_proves_every_missing_run_has_left() -> None:
    listing = Listing([record("a")], limit=500)
    assert listing.complete
    assert listing.proves_absent(RunState("b"))


def test_a_truncated_list_vouches_only_for_runs_queued_after_its_oldest_entry() -> None:
    listing = Listing([record("a", T0 + timedelta(seconds=10)), record("b", T0)], limit=2)
    assert not listing.complete
    assert listing.oldest_queued == T0
    assert listing.proves_absent(RunState("c", queued_at=T0 + timedelta(seconds=5)))
    assert not listing.proves_absent(RunState("d", queued_at=T0 - timedelta(seconds=5)))
    assert not listing.proves_absent(RunState("e"))
    # Naive against aware timestamps cannot be compared: the list cannot vouch.
    assert not listing.proves_absent(RunState("f", queued_at=datetime(2030, 1, 1)))


def test_a_workflow_list_says_nothing_about_other_workflows() -> None:
    listing = Listing([], limit=500, workflow_id="wf-a")
    assert listing.proves_absent(RunState("x", workflow_id="wf-a"))
    assert not listing.proves_absent(RunState("y", workflow_id="wf-b"))
    assert not listing.proves_absent(RunState("z"))


# ---- which list, and what the list teaches --------------------------------------------------------


def test_one_run_is_polled_directly_and_more_through_the_active_list() -> None:
    assert not needs_active_list(1, listed=False, direct_only=False)
    assert needs_active_list(2, listed=False, direct_only=False)
    assert not needs_active_list(2, listed=True, direct_only=False)  # a watcher's list of every status serves
    assert not needs_active_list(2, listed=False, direct_only=True)  # the list was refused


def test_list_records_teach_each_watched_run_its_workflow_and_queue_time() -> None:
    runs = {"a": RunState("a"), "b": RunState("b", queued_at=T0)}
    learn(runs, [record("a", T0, workflow_id="wf-x"), record("zz", workflow_id="wf-y")])
    assert (runs["a"].workflow_id, runs["a"].queued_at) == ("wf-x", T0)
    assert runs["b"].workflow_id is None
    assert "zz" not in runs


# ---- the plan -------------------------------------------------------------------------------------


def test_without_a_listing_every_run_gets_live_status() -> None:
    runs = [RunState("a"), RunState("b")]
    step = plan(runs, [], cycle=3, listed_at={})
    assert ids(step.live) == ["a", "b"]
    assert step.progress == ()
    assert step.workflow_lists == ()


def test_listed_runs_get_their_record_and_missing_ones_their_final_read() -> None:
    runs = [RunState("a", last_live_cycle=9), RunState("b", last_live_cycle=9), RunState("gone")]
    listing = Listing([record("a"), record("b", status="queued"), record("other")], limit=500)
    step = plan(runs, [listing], cycle=10, listed_at={})
    assert [(s.job_id, r.status.value) for s, r in step.progress] == [("a", "running"), ("b", "queued")]
    assert ids(step.live) == ["gone"]  # a and b had live status last cycle: no progress call is due


def test_a_run_listed_as_ended_gets_its_final_read_not_progress() -> None:
    runs = [RunState("a", last_live_cycle=0), RunState("b", last_live_cycle=0)]
    every_status = Listing([record("a", status="completed"), record("b")], limit=500)
    step = plan(runs, [every_status], cycle=1, listed_at={})
    assert [s.job_id for s, _ in step.progress] == ["b"]
    assert ids(step.live) == ["a"]


def test_progress_calls_are_bounded_and_go_to_the_longest_waiting_runs() -> None:
    runs = [RunState(f"r{i}", last_live_cycle=i) for i in range(10)]
    listing = Listing([record(s.job_id) for s in runs], limit=500)
    step = plan(runs, [listing], cycle=10, listed_at={})
    assert ids(step.live) == [f"r{i}" for i in range(PROGRESS_CALLS_PER_CYCLE)]
    # A run read within the last PROGRESS_EVERY_CYCLES cycles is never due.
    recent = [RunState("x", last_live_cycle=10 - PROGRESS_EVERY_CYCLES + 1)]
    assert plan(recent, [Listing([record("x")], limit=500)], cycle=10, listed_at={}).live == ()


def test_a_truncated_list_asks_per_workflow_lists_for_the_runs_it_cannot_vouch_for() -> None:
    old = T0 - timedelta(hours=1)
    runs = [
        RunState("a", workflow_id="wf-1", queued_at=old),
        RunState("b", workflow_id="wf-2", queued_at=old),
        RunState("c", workflow_id="wf-3", queued_at=T0 + timedelta(minutes=1)),  # after the list's oldest
    ]
    truncated = Listing([record("x", T0), record("y", T0)], limit=2)
    step = plan(runs, [truncated], cycle=5, listed_at={"wf-1": 4})
    assert step.workflow_lists == ("wf-2", "wf-1")  # the least recently listed first; wf-3's run has left
    assert step.live == ()
    assert step.progress == ()


def test_a_run_of_unknown_workflow_makes_the_other_runs_workflows_candidates() -> None:
    runs = [RunState("a"), RunState("b", workflow_id="wf-2", queued_at=T0 + timedelta(minutes=1))]
    truncated = Listing([record("x", T0), record("y", T0)], limit=2)
    assert plan(runs, [truncated], cycle=0, listed_at={}).workflow_lists == ("wf-2",)


def test_workflow_lists_are_capped_and_take_turns() -> None:
    count = WORKFLOW_LISTS_PER_CYCLE + 4
    runs = [RunState(f"r{i}", workflow_id=f"wf-{i}") for i in range(count)]
    truncated = Listing([record("x"), record("y")], limit=2)
    first = plan(runs, [truncated], cycle=0, listed_at={})
    assert len(first.workflow_lists) == WORKFLOW_LISTS_PER_CYCLE
    listed_at = dict.fromkeys(first.workflow_lists, 0)
    second = plan(runs, [truncated], cycle=1, listed_at=listed_at)
    assert set(second.workflow_lists[:4]) == {f"wf-{i}" for i in range(count)} - set(first.workflow_lists)


def test_after_the_workflow_lists_the_runs_still_unvouched_get_bounded_live_calls() -> None:
    count = FALLBACK_CALLS_PER_CYCLE + 3
    runs = [RunState(f"r{i}", workflow_id="wf-1", last_checked_cycle=count - i) for i in range(count)]
    runs.append(RunState("active", workflow_id="wf-1", last_live_cycle=7))
    runs.append(RunState("gone", workflow_id="wf-2"))
    truncated = Listing([record("x"), record("y")], limit=2)
    workflow_1 = Listing([record("active", workflow_id="wf-1"), *(record(f"o{i}") for i in range(3))], 4, "wf-1")
    workflow_2 = Listing([], limit=500, workflow_id="wf-2")
    step = plan(runs, [truncated, workflow_1, workflow_2], cycle=8, listed_at={}, workflows_listed=True)
    assert [s.job_id for s, _ in step.progress] == ["active"]
    least_recently_checked = [f"r{i}" for i in reversed(range(count))][:FALLBACK_CALLS_PER_CYCLE]
    assert ids(step.live) == ["gone", *least_recently_checked]


def test_no_candidate_workflow_goes_straight_to_the_live_fallback() -> None:
    runs = [RunState("a"), RunState("b")]
    truncated = Listing([record("x"), record("y")], limit=2)
    step = plan(runs, [truncated], cycle=0, listed_at={})
    assert step.workflow_lists == ()
    assert ids(step.live) == ["a", "b"]
