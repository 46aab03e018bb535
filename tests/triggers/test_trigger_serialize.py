"""The trigger's serialised form: plain JSON only, never the key, and rebuildable in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunEventTrigger, SixtyfourWorkflowRunTrigger

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
CLASSPATH = "airflow_provider_sixtyfour.triggers.sixtyfour.SixtyfourWorkflowRunTrigger"

# Runs in a fresh interpreter: imports the class path as the triggerer does, rebuilds the trigger
# from the kwargs and prints its serialised form again.
REBUILD = """
import importlib, json, sys
classpath, kwargs = json.loads(sys.stdin.read())
module, _, name = classpath.rpartition(".")
cls = getattr(importlib.import_module(module), name)
print(json.dumps(cls(**kwargs).serialize()))
"""


def rebuilt_in_a_fresh_process(serialized: tuple[str, dict[str, object]]) -> tuple[str, dict[str, object]]:
    """What a fresh interpreter serializes after rebuilding the trigger from ``serialized``, as a triggerer does."""
    proc = subprocess.run(
        [sys.executable, "-c", REBUILD],
        input=json.dumps(serialized),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    classpath, kwargs = json.loads(proc.stdout.strip().splitlines()[-1])
    return classpath, kwargs


def test_serialize_is_plain_json_with_exactly_the_documented_kwargs() -> None:
    deadline = time.time() + 3600
    trigger = SixtyfourWorkflowRunTrigger(
        job_id=JOB_ID, sixtyfour_conn_id="my_conn", poll_interval=7, deadline=deadline, cancel_on_kill=False
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == CLASSPATH
    assert kwargs == {
        "job_id": JOB_ID,
        "sixtyfour_conn_id": "my_conn",
        "poll_interval": 7.0,
        "deadline": deadline,
        "cancel_on_kill": False,
    }
    assert json.loads(json.dumps(kwargs)) == kwargs


def test_defaults_serialise_too() -> None:
    classpath, kwargs = SixtyfourWorkflowRunTrigger(job_id=JOB_ID).serialize()
    assert kwargs == {
        "job_id": JOB_ID,
        "sixtyfour_conn_id": "sixtyfour_default",
        "poll_interval": 5.0,
        "deadline": None,
        "cancel_on_kill": True,
    }
    json.dumps([classpath, kwargs])


def test_round_trip_through_a_fresh_process() -> None:
    trigger = SixtyfourWorkflowRunTrigger(job_id=JOB_ID, poll_interval=6.5, deadline=round(time.time()) + 86_400.25)
    serialized = trigger.serialize()
    assert rebuilt_in_a_fresh_process(serialized) == serialized


def test_repr_shows_the_serialised_kwargs_only() -> None:
    text = repr(SixtyfourWorkflowRunTrigger(job_id=JOB_ID, sixtyfour_conn_id="c"))
    assert JOB_ID in text
    assert "api_key" not in text


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"job_id": ""}, "job_id"),
        ({"job_id": JOB_ID, "poll_interval": 0}, "poll_interval"),
        ({"job_id": JOB_ID, "poll_interval": True}, "poll_interval"),
        ({"job_id": JOB_ID, "deadline": "tomorrow"}, "deadline"),
        ({"job_id": JOB_ID, "deadline": float("inf")}, "deadline"),
        (
            {"job_id": JOB_ID, "deadline": time.time() + 1e12},
            "deadline .* is out of range: it must be after 1970 and at",
        ),
        ({"job_id": JOB_ID, "deadline": -1.0}, "out of range"),
        ({"job_id": JOB_ID, "poll_interval": 1e12}, "poll_interval must be at most 31622400 seconds"),
        ({"job_id": JOB_ID, "sixtyfour_conn_id": ""}, "sixtyfour_conn_id"),
    ],
)
def test_bad_arguments_are_refused_with_the_parameter_named(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(SixtyfourInputError, match=expected):
        SixtyfourWorkflowRunTrigger(**kwargs)  # type: ignore[arg-type]


# ---- the run-event watcher --------------------------------------------------------------------------

EVENT_CLASSPATH = "airflow_provider_sixtyfour.triggers.sixtyfour.SixtyfourWorkflowRunEventTrigger"


def test_event_trigger_serializes_plain_json_and_round_trips_through_a_fresh_process() -> None:
    trigger = SixtyfourWorkflowRunEventTrigger(
        workflow_id=["wf-a", "wf-b"], statuses=("failed", "canceled"), poll_interval=12, sixtyfour_conn_id="my_conn"
    )
    serialized = trigger.serialize()
    assert serialized == (
        EVENT_CLASSPATH,
        {
            "workflow_id": ["wf-a", "wf-b"],
            "statuses": ["cancelled", "failed"],
            "poll_interval": 12.0,
            "sixtyfour_conn_id": "my_conn",
        },
    )
    assert rebuilt_in_a_fresh_process(serialized) == serialized


def test_event_trigger_defaults_and_one_workflow_serialize_as_given() -> None:
    _, kwargs = SixtyfourWorkflowRunEventTrigger(workflow_id=" wf-a ").serialize()
    assert kwargs == {
        "workflow_id": "wf-a",
        "statuses": ["completed"],
        "poll_interval": 30.0,
        "sixtyfour_conn_id": "sixtyfour_default",
    }


def test_event_trigger_is_an_event_trigger_airflow_can_hash_on_airflow_3() -> None:
    base = pytest.importorskip("airflow.triggers.base")
    if not hasattr(base, "BaseEventTrigger"):
        pytest.skip("Airflow 2 has no BaseEventTrigger (nor AssetWatcher)")
    trigger = SixtyfourWorkflowRunEventTrigger(workflow_id="wf-a")
    assert isinstance(trigger, base.BaseEventTrigger)
    # What Airflow keys a watcher's trigger row on: the same arguments give the same trigger.
    same = SixtyfourWorkflowRunEventTrigger(workflow_id="wf-a")
    assert base.BaseEventTrigger.hash(*trigger.serialize()) == base.BaseEventTrigger.hash(*same.serialize())
    other = SixtyfourWorkflowRunEventTrigger(workflow_id="wf-b")
    assert base.BaseEventTrigger.hash(*trigger.serialize()) != base.BaseEventTrigger.hash(*other.serialize())


def test_event_trigger_state_key_is_per_connection_and_workflows_and_hides_nothing_secret() -> None:
    one = SixtyfourWorkflowRunEventTrigger(workflow_id=["wf-a", "wf-b"])
    assert (
        one.state_key == SixtyfourWorkflowRunEventTrigger(workflow_id=["wf-b", "wf-a"], statuses=["failed"]).state_key
    )
    assert one.state_key != SixtyfourWorkflowRunEventTrigger(workflow_id=["wf-a"]).state_key
    assert (
        one.state_key != SixtyfourWorkflowRunEventTrigger(workflow_id=["wf-a", "wf-b"], sixtyfour_conn_id="c").state_key
    )
    assert one.state_key.startswith("sixtyfour_run_ends:")
    assert len(one.state_key) < 512


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"workflow_id": ""}, "workflow_id"),
        ({"workflow_id": []}, "workflow_id"),
        ({"workflow_id": ["wf-a", 3]}, "workflow_id"),
        ({"workflow_id": "wf-a", "statuses": ["running"]}, "not an end status"),
        ({"workflow_id": "wf-a", "statuses": []}, "statuses"),
        ({"workflow_id": "wf-a", "poll_interval": -1}, "poll_interval"),
        ({"workflow_id": "wf-a", "sixtyfour_conn_id": None}, "sixtyfour_conn_id"),
    ],
)
def test_event_trigger_refuses_bad_arguments_naming_them(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(SixtyfourInputError, match=expected):
        SixtyfourWorkflowRunEventTrigger(**kwargs)  # type: ignore[arg-type]
