"""The "Sixtyfour run" extra link: registered, attached to the run operator, and rebuilt from serialized DAGs.

That the link reads the ``run_url`` XCom through Airflow's real XCom backend is checked in a real
``airflow dags test`` run (``tests/operators/test_run_workflow_dags.py``).
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import Any

from airflow.providers.common.compat.sdk import BaseOperatorLink

from airflow_provider_sixtyfour import get_provider_info
from airflow_provider_sixtyfour.links.sixtyfour import RUN_URL_XCOM_KEY, SixtyfourRunLink
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

LINK_PATH = "airflow_provider_sixtyfour.links.sixtyfour.SixtyfourRunLink"


def test_the_link_is_registered_in_provider_info_and_importable() -> None:
    assert LINK_PATH in get_provider_info()["extra-links"]
    module, _, name = LINK_PATH.rpartition(".")
    link_class = getattr(import_module(module), name)
    assert issubclass(link_class, BaseOperatorLink)
    assert link_class().name == "Sixtyfour run"
    assert RUN_URL_XCOM_KEY == "run_url"


def test_the_run_operator_carries_the_link() -> None:
    op = SixtyfourRunWorkflowOperator(task_id="enrich", workflow_id="wf", webhook_payload={"a": 1})
    assert [type(link) for link in op.operator_extra_links] == [SixtyfourRunLink]
    assert "Sixtyfour run" in {link.name for link in op.operator_extra_links}


def _dag_with_run_operator() -> Any:
    try:
        from airflow.sdk import DAG
    except ImportError:  # Airflow 2
        from airflow import DAG

    with DAG("link_roundtrip", start_date=datetime(2026, 1, 1), schedule=None) as dag:
        SixtyfourRunWorkflowOperator(task_id="enrich", workflow_id="wf", webhook_payload={"a": 1})
    return dag


def test_a_serialized_dag_keeps_the_link() -> None:
    """The scheduler, webserver and API server see DAGs only in serialized form; the link must survive it."""
    dag = _dag_with_run_operator()
    try:
        from airflow.serialization.serialized_objects import DagSerialization as serializer
    except ImportError:  # Airflow 2
        from airflow.serialization.serialized_objects import SerializedDAG as serializer
    restored = serializer.from_dict(serializer.to_dict(dag))
    task = restored.get_task("enrich")
    assert "Sixtyfour run" in task.extra_links
