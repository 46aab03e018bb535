"""Fixtures for end-to-end tests on a real Airflow 3.3 (API server, scheduler, DAG processor, triggerer).

Usage::

    @pytest.mark.e2e
    def test_something(airflow_cluster, tmp_path):
        dags = tmp_path / "dags"
        dags.mkdir()
        (dags / "my_dag.py").write_text(SOURCE)
        cluster = airflow_cluster(dags, env={"AIRFLOW_CONN_SIXTYFOUR_DEFAULT": "..."})
        cluster.wait_for_dag("my_dag")
        cluster.unpause("my_dag")
        run_id = cluster.trigger_dag("my_dag")
        assert cluster.wait_for_dag_run("my_dag", run_id) == "success"

The cluster is stopped (every process it started, children included) when the test ends, passed or not;
when it failed, the tail of each service's log is printed with the test's report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from helpers.airflow_cli import airflow_major

from .airflow_cluster import AirflowCluster, StartCluster


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def airflow_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StartCluster]:
    """Starts a real Airflow 3.3 for this test: ``airflow_cluster(dags_folder, env=None, **options)``.

    ``dags_folder`` is the folder the DAG processor parses; ``env`` is extra environment for every
    Airflow process (``AIRFLOW_CONN_*`` connections, ``AIRFLOW__*`` config); ``options`` go to
    ``AirflowCluster`` (``scheduled_runs``, ``startup_timeout``, ``stop_grace``). Returns the started
    ``AirflowCluster``, whose home is ``tmp_path / "airflow-home[-N]"``.
    """
    if airflow_major() < 3:
        pytest.skip("the end-to-end cluster needs Airflow 3")
    clusters: list[AirflowCluster] = []

    def start(dags_folder: Path, env: Mapping[str, str] | None = None, **options: Any) -> AirflowCluster:
        suffix = f"-{len(clusters)}" if clusters else ""
        cluster = AirflowCluster(
            home=tmp_path / f"airflow-home{suffix}", dags_folder=Path(dags_folder), env=dict(env or {}), **options
        )
        clusters.append(cluster)
        cluster.start()
        return cluster

    try:
        yield start
    finally:
        for cluster in clusters:
            cluster.stop()
        if request.node.stash.get(_CALL_FAILED, False):
            for cluster in clusters:
                print(f"\n===== Airflow service logs ({cluster.home}) =====\n{cluster.diagnostics()}")
