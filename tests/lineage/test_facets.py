"""The facet builders, and the operators' OpenLineage methods, against the real openlineage-python.

Each built ``OperatorLineage`` is wrapped into a RunEvent the way the provider does, serialised, and
validated (``tests/lineage/events.py``); the operators' methods fetch what only the API knows from a
real emulator over HTTP.
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.lineage import ERROR_FACET_KEY, RUN_FACET_KEY, SCHEMA_PATH
from airflow_provider_sixtyfour.lineage.facts import LineageFacts
from airflow_provider_sixtyfour.lineage.project_urls import schema_url
from airflow_provider_sixtyfour.protocol.models import LiveStatus

from .events import ROOT, validate_event, validate_sixtyfour_facet


def as_event(lineage: Any, event_type: str = "COMPLETE") -> dict[str, Any]:
    """``lineage`` in a RunEvent, as JSON (what the file transport writes)."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.serde import Serde

    event = RunEvent(
        eventType=RunState[event_type],
        eventTime="2026-03-02T00:00:00+00:00",
        run=Run(runId=str(uuid.uuid4()), facets=lineage.run_facets),
        job=Job(namespace="test", name="dag.task", facets=lineage.job_facets),
        inputs=lineage.inputs,
        outputs=lineage.outputs,
        producer="https://example.test/producer",
    )
    return json.loads(Serde.to_json(event))


def landed(tmp_path: Path, name: str, text: str, rows: int, fmt: str = "csv") -> dict[str, Any]:
    path = tmp_path / name
    path.write_text(text)
    return {"uri": path.as_uri(), "filename": name, "bytes": path.stat().st_size, "sha256": None,
            "row_count": rows, "block_number": 1, "format": fmt, "job_id": "job-1", "attempts": 1}  # fmt: skip


def test_outputs_inputs_and_run_facets_of_a_completed_run(tmp_path: Path) -> None:
    from airflow_provider_sixtyfour.lineage.columns import read_columns
    from airflow_provider_sixtyfour.lineage.facets import operator_lineage

    facts = LineageFacts(job_id="job-1", workflow_id="wf-1", workflow_name="Leads", status="completed",
                         run_url="https://app.sixtyfour.ai/workflows/runs/job-1", rows_in=2, rows_out=2,
                         credits_used=3.0, workflow_description="Enrich leads")  # fmt: skip
    facts.landed = [
        landed(tmp_path, "block_01.csv", "name,email\nAda,a@x\nAlan,b@x\n", 2),
        landed(tmp_path, "block_02.json", '[{"name": "Ada", "score": 1}, {"name": "Alan", "score": 2}]', 2, "json"),
    ]
    lineage = operator_lineage(
        facts, inputs=["s3://in-bucket/leads/2026-03-01.csv"], columns=lambda uri, fmt: read_columns(uri, fmt)
    )
    event = as_event(lineage)
    validate_event(event)

    (source,) = event["inputs"]
    assert (source["namespace"], source["name"]) == ("s3://in-bucket", "leads/2026-03-01.csv")
    csv_out, json_out = event["outputs"]
    assert (csv_out["namespace"], csv_out["name"]) == ("file", str(tmp_path / "block_01.csv"))
    assert [f["name"] for f in csv_out["facets"]["schema"]["fields"]] == ["name", "email"]
    assert [f["name"] for f in json_out["facets"]["schema"]["fields"]] == ["name", "score"]
    assert csv_out["outputFacets"]["outputStatistics"] == {
        "_producer": csv_out["outputFacets"]["outputStatistics"]["_producer"],
        "_schemaURL": csv_out["outputFacets"]["outputStatistics"]["_schemaURL"],
        "rowCount": 2,
        "size": (tmp_path / "block_01.csv").stat().st_size,
    }
    assert json_out["facets"]["storage"]["fileFormat"] == "json"
    assert csv_out["facets"]["storage"]["storageLayer"] == "file"

    facets = event["run"]["facets"]
    assert facets["externalQuery"]["externalQueryId"] == "job-1"
    assert facets["externalQuery"]["source"] == "sixtyfour"
    ours = facets[RUN_FACET_KEY]
    assert ours["_schemaURL"] == schema_url()
    assert {k: v for k, v in ours.items() if not k.startswith("_")} == {
        "job_id": "job-1", "workflow_id": "wf-1", "workflow_name": "Leads", "status": "completed",
        "run_url": "https://app.sixtyfour.ai/workflows/runs/job-1", "rows_in": 2, "rows_out": 2, "credits_used": 3.0,
    }  # fmt: skip
    assert ERROR_FACET_KEY not in facets
    assert event["job"]["facets"]["documentation"]["description"] == "Sixtyfour workflow Leads (wf-1): Enrich leads"


def test_a_failed_run_carries_sixtyfour_s_reason() -> None:
    from airflow_provider_sixtyfour.lineage.facets import operator_lineage

    facts = LineageFacts(job_id="job-2", status="failed", failure_reason="find_email: provider quota exceeded")
    event = as_event(operator_lineage(facts, failed=True), "FAIL")
    validate_event(event)
    assert event["run"]["facets"][ERROR_FACET_KEY]["message"] == "find_email: provider quota exceeded"
    assert event["run"]["facets"][RUN_FACET_KEY]["status"] == "failed"
    # Before any run started there is nothing to say about one.
    assert as_event(operator_lineage(LineageFacts(), failed=True))["run"]["facets"] == {}


def test_unnameable_files_are_left_out_and_unreadable_columns_leave_no_schema(tmp_path: Path) -> None:
    from airflow_provider_sixtyfour.lineage.facets import operator_lineage

    facts = LineageFacts(job_id="j")
    facts.landed = [{"uri": "s3://", "row_count": 1}, landed(tmp_path, "f.csv", "a,b\n1,2\n", 1)]
    event = as_event(operator_lineage(facts, inputs=["", "s3://bucket-only"], columns=lambda uri, fmt: None))
    validate_event(event)
    assert event["inputs"] == []
    (output,) = event["outputs"]
    assert "schema" not in output["facets"]
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 1


def test_the_validator_rejects_broken_events(tmp_path: Path) -> None:
    import jsonschema

    from airflow_provider_sixtyfour.lineage.facets import operator_lineage

    facts = LineageFacts(job_id="job-1", rows_out=2)
    facts.landed = [landed(tmp_path, "f.csv", "a,b\n1,2\n", 1)]
    good = as_event(operator_lineage(facts, columns=lambda uri, fmt: ["a", "b"]))
    validate_event(good)
    breakages = [
        lambda e: e["run"]["facets"][RUN_FACET_KEY].update(rows_out=-1),
        lambda e: e["run"]["facets"][RUN_FACET_KEY].pop("job_id"),
        lambda e: e["run"]["facets"][RUN_FACET_KEY].update(run_url=5),
        lambda e: e["outputs"][0]["outputFacets"]["outputStatistics"].update(rowCount="many"),
        lambda e: e["outputs"][0]["facets"]["schema"]["fields"][0].pop("name"),
        lambda e: e["run"].update(runId="not-a-uuid"),
        lambda e: e.update(eventTime="yesterday"),
        lambda e: e["job"].pop("name"),
        lambda e: e["run"]["facets"]["externalQuery"].pop("_producer"),
    ]
    for breakage in breakages:
        bad = copy.deepcopy(good)
        breakage(bad)
        with pytest.raises((AssertionError, ValueError, jsonschema.ValidationError)):
            validate_event(bad)


def test_the_schema_url_names_the_schema_file_of_this_repository_via_project_urls(tmp_path: Path) -> None:
    """``_schemaURL`` = [project.urls] Repository + the file's path; that file validates a facet we emit."""
    from importlib import metadata
    from urllib.parse import urlsplit

    import tomllib

    from airflow_provider_sixtyfour.lineage.facets import operator_lineage
    from airflow_provider_sixtyfour.lineage.project_urls import DISTRIBUTION, SCHEMA_REF, producer

    repository = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]
    # The installed metadata (what a wheel has) declares the same repository.
    installed = dict(e.split(", ", 1) for e in metadata.metadata(DISTRIBUTION).get_all("Project-URL") or [])
    assert installed.get("Repository") == repository
    owner_name = urlsplit(repository).path  # /owner/name
    url = schema_url()
    prefix = f"https://raw.githubusercontent.com{owner_name}/{SCHEMA_REF}/"
    assert url.startswith(prefix), url
    path, fragment = url.removeprefix(prefix).split("#", 1)
    assert path == SCHEMA_PATH
    assert (ROOT / path).is_file()  # the file the URL names is in this repository, at that path
    schema = json.loads((ROOT / path).read_text())
    assert schema["$id"] == url.split("#")[0]
    assert fragment == "/$defs/SixtyfourRunFacet"
    assert "SixtyfourRunFacet" in schema["$defs"]
    assert producer().startswith(repository + "/tree/")

    # A real facet, as emitted, validates against that file (and a broken one does not).
    facts = LineageFacts(job_id="job-9", workflow_id="wf", status="completed", rows_in=1, rows_out=1)
    ours = as_event(operator_lineage(facts))["run"]["facets"][RUN_FACET_KEY]
    assert ours["_schemaURL"] == url
    validate_sixtyfour_facet(ours)
    with pytest.raises(jsonschema_error()):
        validate_sixtyfour_facet({**ours, "rows_out": -1})


def jsonschema_error() -> type[Exception]:
    import jsonschema

    return jsonschema.ValidationError


def test_the_operators_methods_fill_in_what_only_the_api_knows(
    sixtyfour_conn: str, emulator: Any, tmp_path: Path
) -> None:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.operators.sixtyfour import (
        SixtyfourDownloadResultsOperator,
        SixtyfourRunWorkflowOperator,
    )

    with SixtyfourHook(sixtyfour_conn) as hook:
        started = hook.run_workflow("wf-demo-webhook", webhook_payload=[{"email": "ada@example.com"}])
    csv_in = tmp_path / "in.csv"
    run_op = SixtyfourRunWorkflowOperator(task_id="run", workflow_id="wf-demo-webhook", input_csv=csv_in.as_uri())
    start = as_event(run_op.get_openlineage_facets_on_start(), "START")
    validate_event(start)
    assert [(d["namespace"], d["name"]) for d in start["inputs"]] == [("file", str(csv_in))]
    assert start["run"]["facets"] == {}

    run_op.lineage_facts.saw_run(job_id=started.job_id, workflow_id="wf-demo-webhook")
    done = as_event(run_op.get_openlineage_facets_on_complete(None))
    validate_event(done)
    ours = done["run"]["facets"][RUN_FACET_KEY]
    assert ours["job_id"] == started.job_id
    assert ours["workflow_name"]
    assert ours["run_url"].endswith(started.job_id)
    assert "credits_used" in ours
    assert ours["rows_in"] == 1
    assert done["job"]["facets"]["documentation"]["description"].startswith(
        f"Sixtyfour workflow {ours['workflow_name']}"
    )

    # The download operator knows only the job id: the run list gives it the workflow.
    download = SixtyfourDownloadResultsOperator(task_id="land", job_id=started.job_id, destination=tmp_path.as_uri())
    download.lineage_facts.saw_run(job_id=started.job_id)
    landed_event = as_event(download.get_openlineage_facets_on_failure(None), "FAIL")
    validate_event(landed_event)
    assert landed_event["run"]["facets"][RUN_FACET_KEY]["workflow_id"] == "wf-demo-webhook"
    assert TEST_API_KEY not in json.dumps([start, done, landed_event])


def test_without_a_reachable_api_the_event_still_names_the_run(caplog: pytest.LogCaptureFixture) -> None:
    from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

    op = SixtyfourRunWorkflowOperator(task_id="run", workflow_id="wf-x", sixtyfour_conn_id="no_such_connection")
    op.lineage_facts.saw_run(LiveStatus.from_json({"run_id": "job-7", "workflow_id": "wf-x", "status": "failed"}))
    event = as_event(op.get_openlineage_facets_on_failure(None), "FAIL")
    validate_event(event)
    assert event["run"]["facets"][RUN_FACET_KEY]["job_id"] == "job-7"
    assert "workflow_name" not in event["run"]["facets"][RUN_FACET_KEY]
    assert "Lineage: could not" in caplog.text
