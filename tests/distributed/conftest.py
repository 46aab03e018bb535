"""One distributed Airflow 3.3 cluster (see ``cluster.py``) and one emulator for every drill of this folder.

The cluster's Airflow processes run from ``$SIXTYFOUR_CLUSTER_PYTHON`` (``scripts/test.sh`` points it at
a venv holding the built wheel, the Celery provider and psycopg2); without it the drills skip. The
cluster is started once for the whole folder (it costs a minute or two) and stopped, every process of
it, after the last drill, also when one failed. The drills run one after another on one pytest worker
(``xdist_group``, for runs with ``-n``; ``scripts/test.sh`` runs them in a pytest process of their own).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.airflow_cli import airflow_major
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer

from .cluster import DistributedCluster

CLUSTER_PYTHON_ENV = "SIXTYFOUR_CLUSTER_PYTHON"
DAG_FILE = Path(__file__).parent / "dags" / "sixtyfour_distributed.py"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("distributed") is not None:
            item.add_marker(pytest.mark.xdist_group("distributed-cluster"))


@pytest.fixture(scope="package")
def cluster_emulator() -> Iterator[EmulatorServer]:
    """The emulator every drill's runs go to (in this process, on a free 127.0.0.1 port)."""
    server = EmulatorServer(api_keys=[TEST_API_KEY], host="127.0.0.1", port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="package")
def cluster(cluster_emulator: EmulatorServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedCluster]:
    """The started cluster, with ``sixtyfour_default`` pointing at the emulator and the drills' DAGs parsed."""
    python = os.environ.get(CLUSTER_PYTHON_ENV, "")
    if not python:
        pytest.skip(
            f"{CLUSTER_PYTHON_ENV} is unset: run 'bash scripts/test.sh', which builds the wheel and a venv "
            "with it, Airflow 3.3, the Celery provider and psycopg2, and points this variable at its python"
        )
    if airflow_major() < 3:
        pytest.skip("the distributed cluster runs Airflow 3")
    _check_cluster_python(python)
    home = tmp_path_factory.mktemp("distributed")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(DAG_FILE, dags)
    env = {"AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(cluster_emulator.base_url)}
    started = DistributedCluster(home=home / "airflow-home", dags_folder=dags, env=env, python=python)
    try:
        started.start()
        yield started
    except BaseException:
        print(f"\n===== distributed cluster service logs =====\n{started.diagnostics()}")
        raise
    finally:
        started.stop()
        leftovers = started.leftover_processes()
        assert leftovers == [], f"processes of the cluster survived stop(): {leftovers}"


# What the services import: the Celery provider's executor needs what celery 5.7 removed (``retry``).
_PROBE = (
    "import airflow.providers.celery, airflow_provider_sixtyfour, asyncpg, psycopg2\n"
    "from celery.backends.database import retry"
)


def _check_cluster_python(python: str) -> None:
    """Fail early, naming what is missing, when ``python`` cannot run every service of the cluster."""
    probe = subprocess.run(
        [python, "-c", _PROBE],
        capture_output=True,
        text=True,
        check=False,
    )
    if probe.returncode != 0:
        pytest.fail(
            f"{CLUSTER_PYTHON_ENV}={python} cannot run the cluster: {probe.stderr.strip().splitlines()[-1:]}. "
            "It needs Airflow 3.3, this provider's wheel, apache-airflow-providers-celery (with celery<5.7), "
            "psycopg2-binary and asyncpg (Airflow's async engine for PostgreSQL)"
        )
