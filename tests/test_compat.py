"""Each pattern of the compatibility subset (tests/compat.py) still names a test that exists."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from compat import COMPAT_TESTS, is_compat

ROOT = Path(__file__).resolve().parents[1]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


@pytest.mark.parametrize("pattern", COMPAT_TESTS)
def test_each_pattern_names_an_existing_test(pattern: str) -> None:
    path, _, _ = pattern.partition("::")
    files = sorted(ROOT.glob(path))  # a pattern may name a whole directory (``tests/lineage/*``)
    nodeids = [
        f"{file.relative_to(ROOT)}::{name}" for file in files if file.suffix == ".py" for name in _test_names(file)
    ]
    assert any(is_compat(nodeid) for nodeid in nodeids), f"{pattern} matches no test in {path}"


def test_a_nodeid_outside_the_list_is_not_compat() -> None:
    assert is_compat("tests/test_provider_info.py::test_provider_info_content")
    assert is_compat("tests/operators/test_run_workflow.py::test_retry_reattaches_to_a_run_still_in_flight[key-replay]")
    assert not is_compat("tests/operators/test_run_workflow.py::test_on_kill_before_any_run_does_nothing")
