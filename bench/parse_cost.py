"""DAG-parse cost: what importing the provider adds to a DAG file's import, beyond Airflow itself.

Each sample is a fresh ``python`` process that imports ``airflow.sdk`` (``airflow`` on Airflow 2), then,
timed with ``time.perf_counter()`` inside that process, the modules a DAG file imports: our operator,
sensor and trigger modules, or the baseline (``apache-airflow-providers-dbt-cloud``'s operator module).
The figure is the median over ``--repeat`` processes of each (ours and the baseline alternate, so that the
machine's noise falls on both alike). Byte-code caches are warmed first, as in a DAG processor.

It also runs ``python -X importtime`` to name the slowest modules our import pulls in, and lists any heavy
client library (httpx, aiohttp, requests, boto3, ...) that our import loads on top of Airflow, with the
provider module that imports it.

    python bench/parse_cost.py [--repeat 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import REPO_ROOT, format_table, installed_version, median

OUR_MODULES = (
    "airflow_provider_sixtyfour.operators.sixtyfour",
    "airflow_provider_sixtyfour.sensors.sixtyfour",
    "airflow_provider_sixtyfour.triggers.sixtyfour",
)
BASELINE_MODULES = ("airflow.providers.dbt.cloud.operators.dbt",)
BASELINE_DISTRIBUTION = "apache-airflow-providers-dbt-cloud"
OUR_PACKAGE = "airflow_provider_sixtyfour"
TARGET_MS = 30.0
HEAVY_ROOTS = (
    "httpx",
    "httpcore",
    "aiohttp",
    "requests",
    "urllib3",
    "boto3",
    "botocore",
    "aiobotocore",
    "s3fs",
    "fsspec",
    "pandas",
    "numpy",
    "pyarrow",
    "yarl",
    "multidict",
    "openlineage",
)
"""Client and data libraries a DAG file should not pay for at parse time (import them where they are used)."""

# Runs in each fresh process: the base import, then the timed import of the modules under test.
CHILD = """
import json, sys, time
base, targets = sys.argv[1], sys.argv[2:]
t0 = time.perf_counter()
__import__(base)
t1 = time.perf_counter()
loaded = set(sys.modules)
for name in targets:
    __import__(name)
t2 = time.perf_counter()
print(json.dumps({"base_ms": (t1 - t0) * 1e3, "extra_ms": (t2 - t1) * 1e3,
                  "new": sorted(set(sys.modules) - loaded), "before": sorted(loaded)}))
"""
MARK = "@@sixtyfour-bench-mark@@"
IMPORTTIME_CHILD = f"""
import sys
base, targets = sys.argv[1], sys.argv[2:]
__import__(base)
print({MARK!r}, file=sys.stderr, flush=True)
for name in targets:
    __import__(name)
"""


@dataclass
class Samples:
    """Fresh-process import timings of one set of modules."""

    label: str
    modules: tuple[str, ...]
    extra_ms: list[float] = field(default_factory=list)
    base_ms: list[float] = field(default_factory=list)
    new_modules: int = 0
    heavy_new: list[str] = field(default_factory=list)
    heavy_already: list[str] = field(default_factory=list)

    @property
    def median_extra_ms(self) -> float:
        return median(self.extra_ms)


@dataclass
class ImportLine:
    """One line of ``-X importtime``: a module, its own and cumulative microseconds, and who imported it."""

    name: str
    self_us: int
    cumulative_us: int
    chain: tuple[str, ...]


def base_module() -> str:
    """``airflow.sdk`` on Airflow 3 (what a DAG file imports), ``airflow`` on Airflow 2."""
    version = installed_version("apache-airflow") or "0"
    return "airflow.sdk" if int(version.split(".")[0]) >= 3 else "airflow"


def child_env(airflow_home: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "PYTHONPROFILE"))}
    env["AIRFLOW_HOME"] = airflow_home
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONIMPORTTIME", None)
    return env


def sample(base: str, modules: tuple[str, ...], env: dict[str, str]) -> dict[str, Any]:
    """One fresh process: the base import, then ``modules``, timed inside it."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, base, *modules],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] or ["(no output)"]
        raise RuntimeError(f"importing {', '.join(modules)} failed: {tail[0]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def heavy_roots(names: list[str]) -> list[str]:
    roots = {name.split(".")[0] for name in names}
    return sorted(roots & set(HEAVY_ROOTS))


def parse_importtime(stderr: str) -> list[ImportLine]:
    """The ``-X importtime`` lines after the base import's mark, each with its chain of importers."""
    text = stderr.split(MARK, 1)[1] if MARK in stderr else ""
    rows: list[tuple[int, str, int, int]] = []
    for line in text.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        head, cumulative_field, name_field = line.split("|", 2)
        indent = len(name_field) - len(name_field.lstrip(" ")) - 1  # one space follows the "|"
        rows.append((indent // 2, name_field.strip(), int(head.split(":", 1)[1]), int(cumulative_field)))
    # Lines come children first; walking them backwards meets each importer before what it imported.
    stack: list[tuple[int, str]] = []
    parsed: list[ImportLine] = []
    for depth, name, self_us, cumulative in reversed(rows):
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parsed.append(ImportLine(name, self_us, cumulative, tuple(n for _, n in stack)))
        stack.append((depth, name))
    parsed.reverse()
    return parsed


def importtime(base: str, modules: tuple[str, ...], env: dict[str, str]) -> list[ImportLine]:
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", IMPORTTIME_CHILD, base, *modules],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"python -X importtime failed: {out.stderr.strip().splitlines()[-1:]}")
    return parse_importtime(out.stderr)


def module_file(name: str) -> str:
    """The repository-relative source file of one of our modules (no import needed)."""
    path = REPO_ROOT.joinpath(*name.split("."))
    candidate = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    try:
        return str(candidate.relative_to(REPO_ROOT))
    except ValueError:
        return str(candidate)


def importer(line: ImportLine) -> str:
    """The innermost of our modules that (directly or not) imported ``line``'s module."""
    ours = [name for name in line.chain if name.startswith(OUR_PACKAGE)]
    return ours[-1] if ours else (line.chain[-1] if line.chain else "(top level)")


def offenders(runs: list[list[ImportLine]], top: int) -> list[dict[str, Any]]:
    """The ``top`` modules by median self time over the importtime runs, with who pulled them in."""
    selfs: defaultdict[str, list[int]] = defaultdict(list)
    cumulatives: defaultdict[str, list[int]] = defaultdict(list)
    first: dict[str, ImportLine] = {}
    for lines in runs:
        for line in lines:
            selfs[line.name].append(line.self_us)
            cumulatives[line.name].append(line.cumulative_us)
            first.setdefault(line.name, line)
    ranked = sorted(selfs, key=lambda name: median(selfs[name]), reverse=True)[:top]
    return [
        {
            "module": name,
            "self_ms": median(selfs[name]) / 1e3,
            "cumulative_ms": median(cumulatives[name]) / 1e3,
            "imported_by": importer(first[name]) if not name.startswith(OUR_PACKAGE) else "",
        }
        for name in ranked
    ]


def heavy_sources(lines: list[ImportLine]) -> dict[str, dict[str, str]]:
    """For each heavy library our import loaded: which of our modules imports it, and through what."""
    found: dict[str, dict[str, str]] = {}
    for line in lines:
        root = line.name.split(".")[0]
        if root in HEAVY_ROOTS and root not in found and line.name == root:
            ours = importer(line)
            found[root] = {
                "module": ours,
                "file": module_file(ours) if ours.startswith(OUR_PACKAGE) else "",
                "chain": " -> ".join((*line.chain, line.name)),
            }
    return found


def measure(args: argparse.Namespace) -> dict[str, Any]:
    base = args.base or base_module()
    ours = Samples("airflow-provider-sixtyfour", tuple(args.modules))
    baseline: Samples | None = Samples(args.baseline_label, tuple(args.baseline_modules))
    baseline_missing = None
    with tempfile.TemporaryDirectory(prefix="bench-parse-home-") as home:
        env = child_env(home)
        # Warm-up (not counted): Airflow writes its config into the new home and byte-code gets cached.
        sample(base, ours.modules, env)
        try:
            sample(base, baseline.modules, env)  # type: ignore[union-attr]
        except RuntimeError as err:
            baseline, baseline_missing = None, f"{err} (is {BASELINE_DISTRIBUTION} installed?)"
        for i in range(args.repeat):
            order = [ours, baseline] if i % 2 == 0 else [baseline, ours]
            for group in filter(None, order):
                result = sample(base, group.modules, env)
                group.extra_ms.append(result["extra_ms"])
                group.base_ms.append(result["base_ms"])
                group.new_modules = len(result["new"])
                group.heavy_new = heavy_roots(result["new"])
                group.heavy_already = heavy_roots(result["before"])
            print(f"... {i + 1}/{args.repeat} processes each", file=sys.stderr, flush=True)
        timelines = [importtime(base, ours.modules, env) for _ in range(args.importtime_runs)]
    sources = heavy_sources(timelines[0]) if timelines else {}
    return {
        "base_module": base,
        "airflow": installed_version("apache-airflow"),
        "repeat": args.repeat,
        "target_ms": args.target_ms,
        "ours": asdict(ours) | {"median_extra_ms": ours.median_extra_ms},
        "baseline": (asdict(baseline) | {"median_extra_ms": baseline.median_extra_ms}) if baseline else None,
        "baseline_missing": baseline_missing,
        "baseline_version": installed_version(BASELINE_DISTRIBUTION),
        "offenders": offenders(timelines, args.top),
        "our_modules": _our_module_times(timelines),
        "heavy_imports": {root: sources.get(root, {"module": "?", "file": "", "chain": ""}) for root in ours.heavy_new},
    }


def _our_module_times(runs: list[list[ImportLine]]) -> list[dict[str, Any]]:
    selfs: defaultdict[str, list[int]] = defaultdict(list)
    cumulatives: defaultdict[str, list[int]] = defaultdict(list)
    for lines in runs:
        for line in lines:
            if line.name.startswith(OUR_PACKAGE):
                selfs[line.name].append(line.self_us)
                cumulatives[line.name].append(line.cumulative_us)
    ranked = sorted(cumulatives, key=lambda name: median(cumulatives[name]), reverse=True)
    return [
        {"module": n, "self_ms": median(selfs[n]) / 1e3, "cumulative_ms": median(cumulatives[n]) / 1e3} for n in ranked
    ]


def report(result: dict[str, Any]) -> str:
    """The printed report of ``measure``'s result."""
    ours, baseline = result["ours"], result["baseline"]
    lines = [
        f"DAG-parse cost: import after `import {result['base_module']}` (Airflow {result['airflow']}), "
        f"median of {result['repeat']} fresh processes each",
    ]
    rows: list[list[object]] = []
    for group in filter(None, (ours, baseline)):
        lines.append(f"  {group['label']}: import {', '.join(group['modules'])}")
        rows.append(
            [
                group["label"],
                group["median_extra_ms"],
                min(group["extra_ms"]),
                max(group["extra_ms"]),
                median(group["base_ms"]),
                group["new_modules"],
            ]
        )
    lines.append(
        format_table(
            ["imports", "extra ms (median)", "min", "max", f"{result['base_module']} ms (median)", "new modules"],
            rows,
        )
    )
    if baseline:
        ratio = ours["median_extra_ms"] / baseline["median_extra_ms"] if baseline["median_extra_ms"] > 0 else 0
        lines.append(f"ratio ours / {baseline['label']}: {ratio:.2f}")
    else:
        lines.append(f"baseline: not run ({result['baseline_missing']})")
    extra, target = ours["median_extra_ms"], result["target_ms"]
    verdict = "met" if extra < target else f"MISSED by {extra - target:.1f} ms"
    lines.append(f"target: under {target:g} ms extra: {verdict} ({extra:.1f} ms)")
    lines.append("")
    lines.append("python -X importtime, our import only: slowest modules by self time (median of runs)")
    lines.append(
        format_table(
            ["module", "self ms", "cumulative ms", "imported by"],
            [[o["module"], o["self_ms"], o["cumulative_ms"], o["imported_by"]] for o in result["offenders"]],
        )
    )
    lines.append("")
    lines.append("our modules by cumulative import time")
    lines.append(
        format_table(
            ["module", "self ms", "cumulative ms"],
            [[o["module"], o["self_ms"], o["cumulative_ms"]] for o in result["our_modules"]],
        )
    )
    lines.append("")
    if result["heavy_imports"]:
        lines.append("heavy libraries our import loads on top of Airflow (import them lazily):")
        for root, where in result["heavy_imports"].items():
            lines.append(f"  {root}: imported by {where['module']} ({where['file']}); chain {where['chain']}")
    else:
        lines.append(f"heavy libraries our import loads on top of Airflow: none (checked {', '.join(HEAVY_ROOTS)})")
    if ours["heavy_already"]:
        lines.append(f"  (already loaded by {result['base_module']} itself: {', '.join(ours['heavy_already'])})")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="fresh processes per module set (default 15)")
    parser.add_argument("--importtime-runs", type=int, default=3, help="python -X importtime runs (default 3)")
    parser.add_argument("--top", type=int, default=10, help="slowest modules to list (default 10)")
    parser.add_argument("--target-ms", type=float, default=TARGET_MS, help=f"target (default {TARGET_MS:g})")
    parser.add_argument("--modules", nargs="+", default=list(OUR_MODULES), help="our modules to import")
    parser.add_argument("--baseline-modules", nargs="+", default=list(BASELINE_MODULES), help="the baseline's")
    parser.add_argument("--baseline-label", default="dbt-cloud provider", help="the baseline's name in the table")
    parser.add_argument(
        "--base", help="the base import to measure after (default: airflow.sdk on Airflow 3, airflow on Airflow 2)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    result = measure(args)
    print(report(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
