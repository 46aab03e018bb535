"""``SixtyfourDownloadResultsOperator`` in-process against the emulator: arguments, XCom, outlets, kill."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, Asset, AssetAlias

from airflow_provider_sixtyfour.emulator import STORAGE_ROUTE, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.operators.download_results import (
    DEFAULT_ASSET_ALIAS,
    SixtyfourDownloadResultsOperator,
)
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourDownloadResultsOperator as ReExported
from airflow_provider_sixtyfour.protocol.endpoints import DOWNLOAD_LINKS
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, SixtyfourInputError
from airflow_provider_sixtyfour.transfers import DownloadOptions, SixtyfourResultsNotReadyError

MiB = 1 << 20


def _finished_run(emulator: Any, hook: Any, save_json: bool = False, **spec: Any) -> str:
    workflow_id = f"wf-op-{uuid.uuid4().hex[:8]}"
    spec.setdefault("blocks", ("webhook", "enrich_lead", "find_email"))
    emulator.add_workflow(WorkflowSpec(workflow_id=workflow_id, duration_seconds=0.2, queue_seconds=0.0, **spec))
    rows = [{"first_name": "Ada", "company": "Engines"}]
    job_id = hook.run_workflow(workflow_id, webhook_payload=rows, save_json=save_json).job_id
    deadline = time.monotonic() + 60
    while not hook.get_live_status(job_id).status.is_terminal:
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)
    return str(job_id)


@pytest.fixture
def hook(sixtyfour_conn: str) -> Any:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    with SixtyfourHook(sixtyfour_conn_id=sixtyfour_conn) as hook:
        yield hook


def test_reexported_from_the_operators_module() -> None:
    assert ReExported is SixtyfourDownloadResultsOperator


def test_execute_returns_json_records(
    emulator: Any, hook: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    job_id = _finished_run(emulator, hook)
    op = SixtyfourDownloadResultsOperator(
        task_id="download",
        job_id=job_id,
        destination=f"file://{tmp_path}/out/",
        download_options=DownloadOptions(sha256=True),
    )
    result = op.execute(context={})  # type: ignore[arg-type]
    assert json.loads(json.dumps(result)) == result
    assert [r["filename"] for r in result] == [
        "block_01_webhook.csv",
        "block_02_enrich_lead.csv",
        "block_03_find_email.csv",
    ]
    for record in result:
        assert set(record) == {
            "uri",
            "filename",
            "bytes",
            "sha256",
            "row_count",
            "block_number",
            "format",
            "job_id",
            "attempts",
        }
        assert record["sha256"] == emulator.file_sha256(job_id, record["filename"])
        assert Path(record["uri"].removeprefix("file://")).stat().st_size == record["bytes"]
    assert "signature=" not in json.dumps(result)
    assert "signature=" not in caplog.text


def test_files_final_and_max_concurrency(emulator: Any, hook: Any, tmp_path: Path) -> None:
    job_id = _finished_run(emulator, hook)
    op = SixtyfourDownloadResultsOperator(
        task_id="download", job_id=job_id, destination=str(tmp_path), files="final", max_concurrency=1
    )
    result = op.execute(context={})  # type: ignore[arg-type]
    assert [r["block_number"] for r in result] == [3]
    assert op._options().max_concurrency == 1


def test_ndjson_lands_one_record_a_line(emulator: Any, hook: Any, tmp_path: Path) -> None:
    job_id = _finished_run(emulator, hook, save_json=True)
    op = SixtyfourDownloadResultsOperator(
        task_id="download", job_id=job_id, destination=str(tmp_path), format="ndjson", files="final"
    )
    [record] = op.execute(context={})  # type: ignore[arg-type]
    assert (record["filename"], record["format"], record["row_count"]) == ("block_03_find_email.ndjson", "ndjson", 1)
    [line] = (tmp_path / "block_03_find_email.ndjson").read_text().splitlines()
    assert json.loads(line)["first_name"] == "Ada"
    assert record["bytes"] == (tmp_path / "block_03_find_email.ndjson").stat().st_size


def test_download_options_are_merged(emulator: Any) -> None:
    op = SixtyfourDownloadResultsOperator(
        task_id="download",
        job_id="x",
        destination="s3://b/p/",
        max_attempts=2,
        download_options=DownloadOptions(chunk_size=1 * MiB, max_attempts=9),
    )
    options = op._options()
    assert (options.chunk_size, options.max_attempts, options.max_concurrency) == (1 * MiB, 2, 4)


def test_failed_run_fails_the_task_without_retries(emulator: Any, hook: Any, tmp_path: Path) -> None:
    job_id = _finished_run(emulator, hook, outcome="failed", error_message="Provider down")
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id=job_id, destination=str(tmp_path))
    with pytest.raises(AirflowFailException, match=r"failed: .*Provider down") as raised:
        op.execute(context={})  # type: ignore[arg-type]
    assert isinstance(raised.value.__cause__, SixtyfourResultsNotReadyError)


def test_run_still_running_is_left_to_airflows_retries(emulator: Any, hook: Any, tmp_path: Path) -> None:
    """A later try may find it completed, so this one is not final."""
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-slow-dl", blocks=["webhook"], duration_seconds=60))
    job_id = hook.run_workflow("wf-slow-dl", [{"email": "a@example.com"}]).job_id
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id=job_id, destination=str(tmp_path))
    with pytest.raises(SixtyfourResultsNotReadyError, match="has not completed"):
        op.execute(context={})  # type: ignore[arg-type]


def test_target_that_exists_fails_without_retries_and_is_kept(emulator: Any, hook: Any, tmp_path: Path) -> None:
    job_id = _finished_run(emulator, hook)
    (tmp_path / "block_01_webhook.csv").write_text("keep me")
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id=job_id, destination=str(tmp_path))
    with pytest.raises(AirflowFailException, match="already exists; pass overwrite=True"):
        op.execute(context={})  # type: ignore[arg-type]
    assert (tmp_path / "block_01_webhook.csv").read_text() == "keep me"


def test_outlets_get_the_default_alias_and_keep_user_assets() -> None:
    op = SixtyfourDownloadResultsOperator(
        task_id="download", job_id="x", destination="s3://b/p/", outlets=[Asset("s3://b/p/")]
    )
    assert Asset("s3://b/p/") in op.outlets
    assert AssetAlias(DEFAULT_ASSET_ALIAS) in op.outlets
    custom = SixtyfourDownloadResultsOperator(task_id="d2", job_id="x", destination="s3://b/p/", asset_alias="leads")
    assert [o.name for o in custom.outlets if isinstance(o, AssetAlias)] == ["leads"]
    none = SixtyfourDownloadResultsOperator(task_id="d3", job_id="x", destination="s3://b/p/", asset_alias=None)
    assert none.outlets == []


def test_template_fields() -> None:
    assert set(SixtyfourDownloadResultsOperator.template_fields) == {
        "job_id",
        "destination",
        "destination_conn_id",
        "files",
        "format",
        "overwrite",
        "sixtyfour_conn_id",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"format": "xml"}, r"format must be one of \['csv', 'json', 'ndjson'\], got 'xml'"),
        ({"max_concurrency": 0}, "max_concurrency must be a whole number >= 1"),
        ({"max_attempts": True}, "max_attempts must be a whole number >= 1"),
        ({"asset_alias": " "}, "asset_alias must be a non-empty string or None"),
    ],
)
def test_bad_arguments_fail_at_parse_time(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(SixtyfourInputError, match=message):
        SixtyfourDownloadResultsOperator(task_id="download", job_id="x", destination="s3://b/p/", **kwargs)


def test_templated_format_is_checked_when_run(emulator: Any, hook: Any, tmp_path: Path) -> None:
    op = SixtyfourDownloadResultsOperator(
        task_id="download", job_id=str(uuid.uuid4()), destination=str(tmp_path), format="{{ params.fmt }}"
    )
    op.format = "xml"  # what the template rendered to
    with pytest.raises(AirflowFailException, match="format must be one of") as raised:
        op.execute(context={})  # type: ignore[arg-type]
    assert isinstance(raised.value.__cause__, SixtyfourInputError)
    assert emulator.stats()["requests_total"] == 0


def test_on_kill_stops_downloads_and_leaves_nothing(emulator: Any, hook: Any, tmp_path: Path) -> None:
    job_id = _finished_run(emulator, hook, result_bytes=4 * MiB)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="delay", seconds=1.0))
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id=job_id, destination=str(tmp_path))

    def kill_once_downloading() -> None:
        deadline = time.monotonic() + 30
        while emulator.stats()["requests"].get(STORAGE_ROUTE) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        op.on_kill()

    killer = threading.Thread(target=kill_once_downloading)
    killer.start()
    try:
        # execute runs in the main thread, as in a task process (Airflow 2 requires it).
        with pytest.raises(SixtyfourError, match="stopped before it completed"):
            op.execute(context={})  # type: ignore[arg-type]
    finally:
        killer.join(30)
    assert list(tmp_path.rglob("*")) == []


@pytest.mark.timeout(60)
def test_on_kill_ends_a_told_wait_of_the_api(emulator: Any, hook: Any, tmp_path: Path) -> None:
    """The links request answered 429 with Retry-After: 100 (within max_wait, so honoured): on_kill
    ends the hook's wait at once instead of after 100 s (issue 11 item 2)."""
    job_id = _finished_run(emulator, hook)
    emulator.add_fault(FaultRule(route=DOWNLOAD_LINKS, kind="status", status=429, retry_after=100))
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id=job_id, destination=str(tmp_path))

    def kill_while_waiting() -> None:
        deadline = time.monotonic() + 30
        while emulator.request_count(DOWNLOAD_LINKS) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        op.on_kill()

    killer = threading.Thread(target=kill_while_waiting)
    killer.start()
    began = time.monotonic()
    try:
        with pytest.raises(SixtyfourError, match="the task is being stopped"):
            op.execute(context={})  # type: ignore[arg-type]
    finally:
        killer.join(30)
    assert time.monotonic() - began < 30
    assert emulator.request_count(DOWNLOAD_LINKS) == 1
    assert list(tmp_path.rglob("*")) == []


def test_on_kill_before_execute_is_harmless() -> None:
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id="x", destination="s3://b/p/")
    op.on_kill()


def test_templates_render_and_object_storage_path_destination(emulator: Any, hook: Any, tmp_path: Path) -> None:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    job_id = _finished_run(emulator, hook)
    op = SixtyfourDownloadResultsOperator(
        task_id="download",
        job_id="{{ params.job_id }}",
        destination=ObjectStoragePath(f"file://{tmp_path}/osp/"),
        files=["{{ params.pattern }}", "block_01_*"],
        format="{{ params.fmt }}",
    )
    op.render_template_fields({"params": {"job_id": job_id, "pattern": "*find_email*", "fmt": "csv"}})  # type: ignore[arg-type]
    assert (op.job_id, op.files, op.format) == (job_id, ["*find_email*", "block_01_*"], "csv")
    assert isinstance(op.destination, ObjectStoragePath)
    result = op.execute(context={})  # type: ignore[arg-type]
    assert sorted(r["filename"] for r in result) == ["block_01_webhook.csv", "block_03_find_email.csv"]
    assert sorted(p.name for p in (tmp_path / "osp").iterdir()) == ["block_01_webhook.csv", "block_03_find_email.csv"]


@pytest.mark.parametrize(("rendered", "replaced"), [("True", True), (" false ", False), (True, True)])
def test_templated_overwrite_is_read_as_a_bool(
    emulator: Any, hook: Any, tmp_path: Path, rendered: Any, replaced: bool
) -> None:
    job_id = _finished_run(emulator, hook, blocks=("webhook",))
    (tmp_path / "block_01_webhook.csv").write_text("old")
    op = SixtyfourDownloadResultsOperator(
        task_id="download", job_id=job_id, destination=str(tmp_path), overwrite="{{ params.overwrite }}"
    )
    op.overwrite = rendered  # what the template rendered to
    if replaced:
        op.execute(context={})  # type: ignore[arg-type]
        assert (tmp_path / "block_01_webhook.csv").read_text() != "old"
    else:
        with pytest.raises(AirflowFailException, match="already exists"):
            op.execute(context={})  # type: ignore[arg-type]
        assert (tmp_path / "block_01_webhook.csv").read_text() == "old"


def test_overwrite_that_is_not_a_yes_or_no_fails_before_any_download(emulator: Any, hook: Any, tmp_path: Path) -> None:
    job_id = _finished_run(emulator, hook, blocks=("webhook",))
    downloads = emulator.stats()["downloads_started"]
    op = SixtyfourDownloadResultsOperator(task_id="download", job_id=job_id, destination=str(tmp_path))
    op.overwrite = "yes please"
    with pytest.raises(AirflowFailException, match=r"overwrite must be True or False .*got 'yes please'"):
        op.execute(context={})  # type: ignore[arg-type]
    assert emulator.stats()["downloads_started"] == downloads
    assert list(tmp_path.iterdir()) == []
