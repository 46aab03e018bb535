"""The compatibility subset: the tests ``scripts/test.sh`` runs on Airflow 3.0, 3.1 and 3.2 (``-m compat``).

3.3 and 2.11 run the whole suite; the other lines run what breaks first between Airflow versions:
imports and provider info, the connection form, serialization of operators, sensor and trigger, both
reattach paths, ``airflow dags test`` of every example DAG, landing in ``file://`` and ``s3://`` (moto),
the masking of the key, the OpenLineage facets and events, and the secret audit's own checks (the audit
itself watches all of them).
A test joins by a pattern here, in one place, so that the subset reads as a whole;
``tests/test_compat.py`` checks that each pattern still names a test.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

#: ``path::test-name`` patterns (fnmatch; ``*`` also covers parametrize ids) of compat tests.
COMPAT_TESTS = (
    "tests/test_provider_info.py::*",
    "tests/hooks/test_settings.py::*",
    "tests/hooks/test_masking.py::*",
    "tests/test_serialization.py::*",
    "tests/links/test_sixtyfour_link.py::*",
    "tests/triggers/test_trigger_serialize.py::*",
    "tests/operators/test_run_workflow.py::test_retry_reattaches_*",
    "tests/operators/test_run_workflow.py::test_deferrable_path_through_the_real_trigger*",
    "tests/operators/test_run_workflow_dags.py::test_a_retry_after_a_lost_start_reattaches_instead_of_paying_twice",
    "tests/operators/test_download_results_dag.py::test_dags_test_lands_files_and_emits_asset_events",
    "tests/operators/test_download_results_dag.py::test_dags_test_to_s3",
    "tests/example_dags/test_example_dags.py::*",
    "tests/reliability/test_secret_audit.py::*",
    # OpenLineage (the facets against each line's openlineage-python; the example DAGs above emit events).
    "tests/lineage/*",
)


def is_compat(nodeid: str) -> bool:
    """Whether the test ``nodeid`` (``tests/...py::name[id]``) is in :data:`COMPAT_TESTS`."""
    return any(fnmatchcase(nodeid, pattern) for pattern in COMPAT_TESTS)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if is_compat(item.nodeid):
            item.add_marker(pytest.mark.compat)
