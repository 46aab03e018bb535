"""The download operator in a real ``airflow dags test`` run: templates, XCom, Asset events, log audit.

The Asset events are read back from the run's metadata database (``asset_event`` on Airflow 3,
``dataset_event`` on Airflow 2), where the scheduler looks for them to trigger downstream DAGs.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from helpers.airflow_cli import AirflowCli, airflow_major
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import WorkflowSpec
from airflow_provider_sixtyfour.operators.download_results import DEFAULT_ASSET_ALIAS

pytestmark = pytest.mark.slow

DAG_ID = "sixtyfour_download_results_test"

DAG_SOURCE = """
from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG, Asset

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourDownloadResultsOperator
from airflow_provider_sixtyfour.transfers import DownloadOptions

with DAG(
    "{dag_id}",
    schedule=None,
    start_date=pendulum.datetime(2024, 6, 1, tz="UTC"),
    catchup=False,
    params={{"job_id": "{job_id}"}},
):
    SixtyfourDownloadResultsOperator(
        task_id="download",
        job_id="{{{{ params.job_id }}}}",
        destination="{destination}" + "{{{{ ds }}}}/",
        destination_conn_id={destination_conn_id!r},
        files="{{{{ 'all' }}}}",
        outlets=[Asset("{folder_asset}")],
        download_options=DownloadOptions(sha256=True),
    )
"""


def _finished_run(emulator: Any) -> str:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    workflow_id = f"wf-dag-{uuid.uuid4().hex[:8]}"
    emulator.add_workflow(
        WorkflowSpec(
            workflow_id=workflow_id,
            blocks=("webhook", "enrich_lead", "find_email"),
            duration_seconds=0.2,
            queue_seconds=0.0,
            result_bytes=1 << 20,
        )
    )
    with SixtyfourHook() as hook:
        job_id = hook.run_workflow(workflow_id, webhook_payload=[{"first_name": "Ada"}]).job_id
        deadline = time.monotonic() + 60
        while not hook.get_live_status(job_id).status.is_terminal:
            assert time.monotonic() < deadline, "the run did not end"
            time.sleep(0.05)
    return str(job_id)


def _asset_events(db: Path) -> list[tuple[str, dict[str, Any], list[str]]]:
    """Every asset event: its asset's URI, its extra, and the aliases it came through."""
    if airflow_major() >= 3:
        events, assets, event_col = "asset_event", "asset", "asset_id"
        link, alias, link_event, link_alias = "asset_alias_asset_event", "asset_alias", "event_id", "alias_id"
    else:
        events, assets, event_col = "dataset_event", "dataset", "dataset_id"
        link, alias, link_event, link_alias = "dataset_alias_dataset_event", "dataset_alias", "event_id", "alias_id"
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            f"SELECT e.id, a.uri, e.extra FROM {events} e JOIN {assets} a ON a.id = e.{event_col} ORDER BY e.id"  # noqa: S608
        ).fetchall()
        aliases = conn.execute(
            f"SELECT l.{link_event}, al.name FROM {link} l JOIN {alias} al ON al.id = l.{link_alias}"  # noqa: S608
        ).fetchall()
    by_event: dict[int, list[str]] = {}
    for event_id, name in aliases:
        by_event.setdefault(event_id, []).append(name)
    return [(uri, json.loads(extra or "{}"), by_event.get(event_id, [])) for event_id, uri, extra in rows]


def _airflow_release() -> tuple[int, ...]:
    from importlib.metadata import version

    from packaging.version import Version

    return Version(version("apache-airflow")).release


def _run_dag(
    airflow_cli: AirflowCli, emulator: Any, job_id: str, destination: str, extra_env: dict[str, str], **kw: Any
) -> Any:
    folder_asset = kw.pop("folder_asset")
    airflow_cli.add_dag(
        "download_dag.py",
        DAG_SOURCE.format(
            dag_id=DAG_ID,
            job_id=job_id,
            destination=destination,
            destination_conn_id=kw.pop("destination_conn_id", None),
            folder_asset=folder_asset,
        ),
    )
    env = {"AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url), **extra_env}
    if _airflow_release() < (3, 3):
        # Before 3.3, ``dags test`` does not write the DAG's assets and aliases to the database (the DAG
        # processor does, in a deployment): Airflow 2 cannot record alias events without them, and 3.0
        # fails the task on an "inactive" outlet Asset.
        airflow_cli.run("dags", "reserialize", extra_env=env, check=True)
    return airflow_cli.dags_test(DAG_ID, extra_env=env)


def _check_no_secrets(*texts: str) -> None:
    for text in texts:
        assert "signature=" not in text
        assert "expires=" not in text
        assert TEST_API_KEY not in text


def test_dags_test_lands_files_and_emits_asset_events(
    airflow_cli: AirflowCli, emulator: Any, sixtyfour_conn: str, tmp_path: Path
) -> None:
    job_id = _finished_run(emulator)
    out = tmp_path / "landing"
    proc = _run_dag(airflow_cli, emulator, job_id, f"file://{out}/", {}, folder_asset=f"file://{out}/")
    assert proc.returncode == 0, proc.stdout[-6000:]

    [day] = [p for p in out.iterdir()]  # the {{ ds }} folder
    names = sorted(p.name for p in day.iterdir())
    assert names == ["block_01_webhook.csv", "block_02_enrich_lead.csv", "block_03_find_email.csv"]
    for name in names:
        assert (day / name).read_bytes() == emulator.file_bytes(job_id, name)

    events = _asset_events(airflow_cli.home / "airflow.db")
    # Events through the alias are the per-file ones; the declared folder Asset has its own.
    per_file = {uri: (extra, aliases) for uri, extra, aliases in events if aliases}
    assert sorted(per_file) == [f"file://{day}/{name}" for name in names]
    for uri, (extra, aliases) in per_file.items():
        assert aliases == [DEFAULT_ASSET_ALIAS]
        name = uri.rsplit("/", 1)[1]
        assert extra["sha256"] == emulator.file_sha256(job_id, name)
        assert extra["bytes"] == 1 << 20
        assert extra["job_id"] == job_id
    [(folder_uri, folder_extra)] = [(uri, extra) for uri, extra, aliases in events if not aliases]
    assert folder_uri.rstrip("/") == f"file://{out}"
    assert folder_extra["job_id"] == job_id
    assert sorted(f["uri"] for f in folder_extra["files"]) == sorted(per_file)

    _check_no_secrets(proc.stdout, airflow_cli.all_logs())
    assert "Landed block_03_find_email.csv" in proc.stdout + airflow_cli.all_logs()


def test_dags_test_to_s3(
    airflow_cli: AirflowCli, emulator: Any, sixtyfour_conn: str, moto_s3: Any, tmp_path: Path
) -> None:
    bucket = f"dag-{uuid.uuid4().hex[:8]}"
    moto_s3.client().create_bucket(Bucket=bucket)
    job_id = _finished_run(emulator)
    proc = _run_dag(
        airflow_cli,
        emulator,
        job_id,
        f"s3://{bucket}/sixtyfour/",
        {"AIRFLOW_CONN_AWS_MOTO": moto_s3.connection_json()},
        destination_conn_id="aws_moto",
        folder_asset=f"s3://{bucket}/sixtyfour/",
    )
    assert proc.returncode == 0, proc.stdout[-6000:]
    listed = moto_s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    keys = sorted(item["Key"] for item in listed)
    assert len(keys) == 3
    assert all(key.startswith("sixtyfour/") and key.endswith(".csv") for key in keys)
    uris = {uri for uri, _, aliases in _asset_events(airflow_cli.home / "airflow.db") if aliases}
    assert uris == {f"s3://{bucket}/{key}" for key in keys}
    _check_no_secrets(proc.stdout, airflow_cli.all_logs())


def test_dags_test_failure_is_clear_and_leaks_nothing(
    airflow_cli: AirflowCli, emulator: Any, sixtyfour_conn: str, tmp_path: Path
) -> None:
    from airflow_provider_sixtyfour.emulator import STORAGE_ROUTE, FaultRule

    job_id = _finished_run(emulator)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="truncate", fraction=0.5, filename="block_02_*"))
    out = tmp_path / "landing"
    proc = _run_dag(airflow_cli, emulator, job_id, f"file://{out}/", {}, folder_asset=f"file://{out}/")
    text = proc.stdout + airflow_cli.all_logs()
    assert proc.returncode != 0 or "failed" in text.lower()
    assert "'block_02_enrich_lead.csv' could not be downloaded (4 attempts)" in text
    assert [p for p in out.rglob("*") if p.is_file()] == []
    assert [uri for uri, _, aliases in _asset_events(airflow_cli.home / "airflow.db") if aliases] == []
    _check_no_secrets(text)
