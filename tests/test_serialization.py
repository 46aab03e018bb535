"""Every operator and the sensor survive Airflow's DAG serialization (what the scheduler and API server see).

The DAG goes through ``to_dict``, JSON text (as the database stores it) and ``from_dict`` on the installed
Airflow; each task keeps its type, its templated fields and the settings the workers read back.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from helpers.airflow_cli import airflow_major

from airflow_provider_sixtyfour.operators.download_results import DEFAULT_ASSET_ALIAS
from airflow_provider_sixtyfour.operators.sixtyfour import (
    SixtyfourCancelRunOperator,
    SixtyfourDownloadResultsOperator,
    SixtyfourRunWorkflowOperator,
)
from airflow_provider_sixtyfour.sensors.sixtyfour import SixtyfourWorkflowRunSensor

RUN_ID = "{{ ti.xcom_pull(task_ids='run', key='job_id') }}"
# Airflow 2 serializes a DatasetAlias outlet only with a migrated database (the DAG processor has one);
# the example DAGs' ``dags reserialize`` covers that there. Here Airflow 2 gets tasks without the alias.
ALIAS = airflow_major() >= 3


def _serializer() -> Any:
    try:
        from airflow.serialization.serialized_objects import DagSerialization as serializer
    except ImportError:  # Airflow 2 to 3.2
        from airflow.serialization.serialized_objects import SerializedDAG as serializer
    return serializer


def _dag() -> Any:
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow import DAG

    with DAG("sixtyfour_serialization", start_date=datetime(2026, 1, 1), schedule=None, catchup=False) as dag:
        run = SixtyfourRunWorkflowOperator(
            task_id="run",
            workflow_id="wf-{{ ds_nodash }}",
            webhook_payload=[{"email": "ada@example.com"}],
            deferrable=True,
            poll_interval=7.5,
            timeout=timedelta(minutes=30),
            download_to="file:///data/{{ ds }}/" if ALIAS else None,
            sixtyfour_conn_id="sixtyfour_prod",
        )
        wait = SixtyfourWorkflowRunSensor(task_id="wait", job_id=RUN_ID, deferrable=True, poke_interval=12)
        land = SixtyfourDownloadResultsOperator(
            task_id="land",
            job_id=RUN_ID,
            destination="s3://bucket/{{ ds }}/",
            destination_conn_id="aws_x",
            asset_alias=DEFAULT_ASSET_ALIAS if ALIAS else None,
        )
        cancel = SixtyfourCancelRunOperator(task_id="cancel", job_id=RUN_ID, trigger_rule="all_failed")
        run >> wait >> land >> cancel
    return dag


def _round_trip() -> Any:
    serializer = _serializer()
    text = json.dumps(serializer.to_dict(_dag()))
    return serializer.from_dict(json.loads(text))


def test_every_task_keeps_its_type_and_order() -> None:
    restored = _round_trip()
    types = {task.task_id: task.task_type for task in restored.tasks}
    assert types == {
        "run": "SixtyfourRunWorkflowOperator",
        "wait": "SixtyfourWorkflowRunSensor",
        "land": "SixtyfourDownloadResultsOperator",
        "cancel": "SixtyfourCancelRunOperator",
    }
    assert restored.get_task("land").upstream_task_ids == {"wait"}
    assert restored.get_task("cancel").trigger_rule == "all_failed"


def test_templated_fields_survive_unrendered() -> None:
    restored = _round_trip()
    run = restored.get_task("run")
    assert run.workflow_id == "wf-{{ ds_nodash }}"
    assert run.webhook_payload == [{"email": "ada@example.com"}]
    assert run.download_to == ("file:///data/{{ ds }}/" if ALIAS else None)
    assert run.sixtyfour_conn_id == "sixtyfour_prod"
    for task_id in ("wait", "land", "cancel"):
        assert restored.get_task(task_id).job_id == RUN_ID
    land = restored.get_task("land")
    assert land.destination == "s3://bucket/{{ ds }}/"
    assert land.destination_conn_id == "aws_x"
    for task_id, task in ((t.task_id, t) for t in restored.tasks):
        original = _dag().get_task(task_id)
        assert tuple(task.template_fields) == tuple(original.template_fields)


def test_the_link_and_the_asset_alias_outlets_survive() -> None:
    restored = _round_trip()
    assert "Sixtyfour run" in restored.get_task("run").extra_links
    if not ALIAS:
        return
    # Landing files announces them: the alias outlet must survive, or no Asset event reaches the scheduler.
    for task_id in ("run", "land"):
        outlets = [(type(outlet).__name__, outlet.name) for outlet in restored.get_task(task_id).outlets]
        # Airflow 3.3 deserializes into its own Serialized* classes.
        assert [(kind.removeprefix("Serialized"), name) for kind, name in outlets] == [
            ("AssetAlias", DEFAULT_ASSET_ALIAS)
        ]
