"""The Airflow versions we claim are the ones CI pins and runs, and the README says which is which."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = sorted((ROOT / "ci").glob("constraints-airflow-*.txt"))


def _pinned_airflow(path: Path) -> str:
    (version,) = re.findall(r"^apache-airflow==(\S+)$", path.read_text(), flags=re.M)
    return version


def _series(path: Path) -> str:
    return path.stem.removeprefix("constraints-airflow-")


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, flags=re.M | re.S)
    assert match, f"README has no '## {title}' section"
    return match.group(1)


def test_every_claimed_line_has_pinned_constraints() -> None:
    assert {_series(p) for p in CONSTRAINTS} == {"2.11", "3.0", "3.1", "3.2", "3.3"}
    for path in CONSTRAINTS:
        assert _pinned_airflow(path).startswith(_series(path) + "."), path.name


@pytest.mark.parametrize("path", CONSTRAINTS, ids=_series)
def test_update_script_and_readme_name_the_pinned_version(path: Path) -> None:
    version = _pinned_airflow(path)
    assert f'"{_series(path)}:{version}:' in (ROOT / "scripts" / "update-constraints.sh").read_text()
    assert f"| {version} |" in _readme_section("Airflow versions")


def test_the_test_command_runs_every_line() -> None:
    script = (ROOT / "scripts" / "test.sh").read_text()
    (compat,) = re.findall(r"^COMPAT_SERIES=\((.*)\)$", script, flags=re.M)
    assert {"3.3", "2.11", *compat.split()} == {_series(p) for p in CONSTRAINTS}
    assert '-m "compat and not e2e and not distributed"' in script


def test_the_wheel_venv_has_what_the_distributed_cluster_runs() -> None:
    pinned = (ROOT / "ci" / "constraints-airflow-3.3.txt").read_text()
    for name in ("apache-airflow-providers-celery", "psycopg2-binary"):
        assert re.search(rf"^{name}==", pinned, flags=re.M), name
    assert "apache-airflow-providers-celery psycopg2-binary" in (ROOT / "scripts" / "_wheel.sh").read_text()
    assert 'export SIXTYFOUR_CLUSTER_PYTHON="$WHEEL_PY"' in (ROOT / "scripts" / "test.sh").read_text()
