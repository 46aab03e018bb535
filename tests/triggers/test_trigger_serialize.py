"""The trigger's serialised form: plain JSON only, never the key, and rebuildable in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

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
    trigger = SixtyfourWorkflowRunTrigger(job_id=JOB_ID, poll_interval=6.5, deadline=1_900_000_000.25)
    serialized = trigger.serialize()
    proc = subprocess.run(
        [sys.executable, "-c", REBUILD],
        input=json.dumps(serialized),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert tuple(json.loads(proc.stdout.strip().splitlines()[-1])) == (serialized[0], serialized[1])


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
        ({"job_id": JOB_ID, "sixtyfour_conn_id": ""}, "sixtyfour_conn_id"),
    ],
)
def test_bad_arguments_are_refused_with_the_parameter_named(kwargs: dict[str, object], expected: str) -> None:
    with pytest.raises(SixtyfourInputError, match=expected):
        SixtyfourWorkflowRunTrigger(**kwargs)  # type: ignore[arg-type]
