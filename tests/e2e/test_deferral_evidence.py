"""The deferral checks on their own (no Airflow processes): each missing piece of evidence is named."""

from __future__ import annotations

import dataclasses

import pytest

from .airflow_cluster import DeferralEvidence

TRIGGER_LOG = "\n".join(
    [
        '{"event":"trigger d/r/wait/-1/1 (ID 1) starting"}',
        '{"event":"Trigger fired event","name":"d/r/wait/-1/1 (ID 1)"}',
    ]
)
WORKER_LOG = "\n".join(
    [
        '{"event":"::group::Pre Execute"}',
        '{"event":"Pausing task as DEFERRED. "}',
        '{"event":"::endgroup::"}',
        '{"event":"::group::Pre Execute"}',
        '{"event":"Worker startup parse complete"}',
    ]
)
GOOD = DeferralEvidence(
    task_id="wait",
    observed_states=("queued", "running", "success"),
    deferred_state_updates=("... new_state=deferred rows_affected=1 ti_id=abc",),
    triggerer_job_ids=(7,),
    trigger_logs={7: TRIGGER_LOG},
    worker_log=WORKER_LOG,
)


def test_complete_evidence_has_no_problems() -> None:
    assert GOOD.problems() == []
    assert GOOD.resumed


def test_a_polled_deferred_state_is_enough_without_the_api_log_line() -> None:
    evidence = dataclasses.replace(GOOD, deferred_state_updates=(), observed_states=("running", "deferred"))
    assert evidence.problems() == []


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"deferred_state_updates": ()}, "never set to 'deferred'"),
        ({"trigger_logs": {}}, "no trigger log written by this cluster's triggerer"),
        ({"trigger_logs": {3: TRIGGER_LOG}}, "no trigger log written by this cluster's triggerer"),
        ({"trigger_logs": {7: '{"event":"trigger d/r/wait/-1/1 (ID 1) starting"}'}}, "lacks"),
        ({"worker_log": WORKER_LOG + "\n" + TRIGGER_LOG}, "ran inline in the worker"),
        ({"worker_log": '{"event":"::group::Pre Execute"}'}, "does not show the task deferring"),
        ({"worker_log": WORKER_LOG.split('\n{"event":"::endgroup')[0]}, "does not show the task resuming"),
    ],
)
def test_each_missing_piece_is_named(change: dict[str, object], problem: str) -> None:
    evidence = dataclasses.replace(GOOD, **change)  # type: ignore[arg-type]
    problems = evidence.problems()
    assert len(problems) == 1
    assert problem in problems[0]
