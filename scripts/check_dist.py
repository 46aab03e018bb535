"""Check the built sdist and wheel in a folder: what users install must hold the package and nothing else.

Usage: ``python scripts/check_dist.py DIST_DIR``. Exits non-zero naming every problem found:

* the wheel holds exactly the package's files (every ``.py`` of ``airflow_provider_sixtyfour/`` and
  ``py.typed``), the Apache-2.0 ``LICENSE`` byte for byte, the ``apache_airflow_provider`` entry point
  and the ``sixtyfour-emulator`` script, and no ``tests/``, ``bench/`` or ``demo/``;
* the sdist holds the package, ``pyproject.toml``, ``README.md``, ``LICENSE`` and the example DAGs, and
  no ``tests/``, ``bench/`` or ``demo/``.
"""

from __future__ import annotations

import configparser
import sys
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "airflow_provider_sixtyfour"
FORBIDDEN = ("tests/", "bench/", "demo/")
ENTRY_POINT = ("apache_airflow_provider", "provider_info", f"{PACKAGE}:get_provider_info")
SCRIPT = ("console_scripts", "sixtyfour-emulator", f"{PACKAGE}.emulator.__main__:main")


def package_files() -> set[str]:
    """The files the wheel must hold: the package's sources, its data (JSON: the vendor's OpenAPI document,
    the lineage facet's schema) and its ``py.typed`` marker."""
    base = ROOT / PACKAGE
    sources = [*base.rglob("*.py"), *base.rglob("*.json")]
    files = {p for p in sources if "__pycache__" not in p.parts} | {base / "py.typed"}
    return {p.relative_to(ROOT).as_posix() for p in files}


def _forbidden(names: set[str]) -> list[str]:
    return sorted(name for name in names if name.startswith(FORBIDDEN))


def check_wheel(path: Path) -> list[str]:
    """The problems of one wheel (empty when it is right)."""
    problems = []
    with zipfile.ZipFile(path) as wheel:
        names = set(wheel.namelist())
        dist_info = {name.split("/", 1)[0] for name in names if name.split("/", 1)[0].endswith(".dist-info")}
        if len(dist_info) != 1:
            return [f"{path.name}: expected one .dist-info folder, found {sorted(dist_info)}"]
        (info,) = dist_info
        in_package = {name for name in names if name.startswith(f"{PACKAGE}/")}
        if missing := sorted(package_files() - in_package):
            problems.append(f"{path.name}: missing package files {missing[:10]}")
        if extra := sorted(in_package - package_files()):
            problems.append(f"{path.name}: files that are not the package's sources {extra[:10]}")
        if stray := sorted(n for n in names - in_package if not n.startswith(f"{info}/")):
            problems.append(f"{path.name}: files outside the package {stray[:10]}")
        if bad := _forbidden(names):
            problems.append(f"{path.name}: holds {bad[:10]}")
        license_name = f"{info}/licenses/LICENSE"
        if license_name not in names:
            problems.append(f"{path.name}: no {license_name}")
        elif wheel.read(license_name) != (ROOT / "LICENSE").read_bytes():
            problems.append(f"{path.name}: {license_name} differs from LICENSE")
        metadata = wheel.read(f"{info}/METADATA").decode()
        if "License-Expression: Apache-2.0" not in metadata:
            problems.append(f"{path.name}: METADATA has no 'License-Expression: Apache-2.0'")
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(f"{info}/entry_points.txt").decode())
        for section, key, value in (ENTRY_POINT, SCRIPT):
            found = entry_points.get(section, key, fallback=None)
            if found != value:
                problems.append(f"{path.name}: entry point [{section}] {key} is {found!r}, expected {value!r}")
    return problems


def check_sdist(path: Path) -> list[str]:
    """The problems of one sdist (empty when it is right)."""
    with tarfile.open(path) as sdist:
        members = [m.name for m in sdist.getmembers() if m.isfile()]
    top = {name.split("/", 1)[0] for name in members}
    if len(top) != 1:
        return [f"{path.name}: expected one top folder, found {sorted(top)}"]
    names = {name.split("/", 1)[1] for name in members}
    problems = []
    needed = {"pyproject.toml", "README.md", "LICENSE", "PKG-INFO"} | package_files()
    needed |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "example_dags").glob("*.py")}
    if missing := sorted(needed - names):
        problems.append(f"{path.name}: missing {missing[:10]}")
    if bad := _forbidden(names):
        problems.append(f"{path.name}: holds {bad[:10]}")
    return problems


def main(argv: list[str]) -> int:
    """Check the one wheel and the one sdist in ``argv[0]``; print what is wrong and return 1, else 0."""
    if len(argv) != 1:
        print("usage: check_dist.py DIST_DIR", file=sys.stderr)
        return 2
    dist = Path(argv[0])
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"check_dist: expected one wheel and one sdist in {dist}, found {wheels + sdists}", file=sys.stderr)
        return 1
    problems = check_wheel(wheels[0]) + check_sdist(sdists[0])
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"check_dist: {wheels[0].name} and {sdists[0].name} hold the package, py.typed, LICENSE and entry points")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
