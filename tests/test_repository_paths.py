"""The suite runs on any machine: no tracked file reads a path outside the repository.

The vendor's OpenAPI document is shipped in the package (``emulator/openapi/``); nothing refers to the
workplace's own folders, to a sibling checkout or to a home directory.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from airflow_provider_sixtyfour.emulator.openapi import load_document

ROOT = Path(__file__).resolve().parent.parent

# Written in pieces so that this file does not match its own patterns.
OUTSIDE_PATHS = re.compile(
    "|".join(
        [
            r"(?<![\w.])/" + "work/",
            re.escape(".." + "/shared"),
            re.escape("/" + "shared/reference"),
            r"(?<![\w.])/" + "home/[A-Za-z_]",
            r"(?<![\w.])/" + "Users/[A-Za-z_]",
            r"(?<![\w.])/" + "root/",
            r"[A-Za-z]:\\" + "Users",
        ]
    )
)
TEXT_SUFFIXES = {".py", ".sh", ".toml", ".cfg", ".ini", ".txt", ".json", ".md", ".yaml", ".yml", ""}


def _tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError) as err:
        pytest.skip(f"not a git checkout ({err})")
    return [ROOT / name for name in listed.decode().split("\0") if name]


def test_no_tracked_file_names_a_path_outside_the_repository() -> None:
    files = [p for p in _tracked_files() if p.suffix in TEXT_SUFFIXES and p.is_file()]
    assert any(p.name == "test_schema.py" for p in files), "git ls-files did not list the tests"
    found = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_PATHS.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "paths outside the repository:\n" + "\n".join(found)


@pytest.mark.parametrize(
    "line",
    [
        'OPENAPI = Path("/' + "work/shared/" + 'reference/sixtyfour-openapi-workflows.json")',
        "see ../" + "shared/reference/SIXTYFOUR-API.md",
        'open("/' + 'home/ada/.sixtyfour/key")',
        "C:\\" + "Users\\ada\\doc.json",
    ],
)
def test_the_pattern_catches_outside_paths(line: str) -> None:
    assert OUTSIDE_PATHS.search(line)


@pytest.mark.parametrize("line", ["/workflows/runs/{run_id}/live_status", "tmp_path / 'home'", "s3://bucket/work/x"])
def test_the_pattern_leaves_api_routes_and_relative_paths_alone(line: str) -> None:
    assert not OUTSIDE_PATHS.search(line)


def test_the_openapi_document_is_read_from_the_package() -> None:
    document = load_document()
    assert document["info"]["title"] == "Sixtyfour API"
    assert "/workflows/runs/{run_id}/live_status" in document["paths"]
    assert (ROOT / "airflow_provider_sixtyfour" / "emulator" / "openapi" / "sixtyfour-openapi-workflows.json").is_file()
