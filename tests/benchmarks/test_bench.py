"""Smoke tests of the benchmark command: every script runs in a tiny configuration and prints its table.

Benchmarks assert no timings; these tests check that each script runs, that ``run_all`` reads the figures
each one wrote (``--json``) into ``BENCHMARKS.md``, that a missing, failing or silent script is reported as
not run, and that the parse-cost script attributes imports to the module that made them.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"


def load_bench_module(name: str) -> ModuleType:
    """Import ``bench/NAME.py`` (the scripts put ``bench/`` on ``sys.path`` themselves for ``common``)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def run_all(*args: str, timeout: float = 280) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(BENCH / "run_all.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        check=False,
    )


def summary_rows(report: str) -> dict[str, list[str]]:
    """The summary table of a BENCHMARKS.md, by figure name."""
    table = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] not in ("figure", "") and not set(cells[0]) <= {"-"}:
            rows[cells[0]] = cells[1:]
    return rows


@pytest.mark.slow
def test_every_benchmark_runs_tiny_and_lands_in_the_report(tmp_path: Path) -> None:
    report_path = tmp_path / "BENCHMARKS.md"
    # The dbt Cloud provider lives in the bench venv only; the HTTP provider stands in as the parse baseline.
    result = run_all(
        "--profile", "tiny", "--output", str(report_path),
        "--parse-baseline-module", "airflow.providers.http.operators.http",
    )  # fmt: skip
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]

    # Each script printed its own table (a script that failed says why in its own output, shown whole).
    assert "not run:" not in out, out[-6000:]
    assert "DAG-parse cost: import after" in out
    assert re.search(r"extra ms \(median\)", out)
    assert "emulator at http://127.0.0.1:" in out
    assert re.search(r"^\s+\|\s+mode\s+runs\s+wall s", out, re.MULTILINE)
    assert "1 file of 8 MiB to file://" in out
    assert "4 files of 2 MiB at once to file://" in out
    assert "defaults = DownloadOptions() (sha256=False" in out
    assert "land_results (defaults)" in out
    assert "same with sha256=True" in out
    assert "1. The answer cap on a 500-run list answer" in out
    assert re.search(r"^\s+\|\s+plain b\"\"\.join\(chunks\)\s+[\d.]+\s+[\d.]+$", out, re.MULTILINE)
    assert re.search(r"^\s+\|\s+answer\s+MiB\s+parsed\s+adrive\s+wall ms\s+loop stall ms", out, re.MULTILINE)
    assert re.search(r"^\s+\|\s+~5 MiB list\s+[\d.]+\s+off the loop\s+default\s", out, re.MULTILINE)

    report = report_path.read_text()
    assert "not run" not in report, report
    assert "Command: `python bench/run_all.py --profile tiny" in report
    for field in ("date", "nproc", "memory", "python", "airflow"):
        assert re.search(rf"^\| {field} \| \S", report, re.MULTILINE), field

    rows = summary_rows(report)
    parse = next(cells for name, cells in rows.items() if name.startswith("DAG-parse cost"))
    assert re.fullmatch(r"[\d.]+ ms", parse[0])
    assert "http provider" in parse[1]
    assert parse[2].endswith("x")
    assert parse[3] == "< 30 ms extra"
    assert parse[4] == "met" or parse[4].startswith("MISSED by")

    requests = rows["status requests/min, 3 runs (poll/min beyond the final read; calls per run)"]
    assert re.fullmatch(r"\d+ \(-?\d+; [\d.]+\)", requests[0])
    assert re.fullmatch(r"\d+ \(-?\d+; [\d.]+\)", requests[1])
    assert re.fullmatch(r"[\d.]+ / [\d.]+ s", rows["run end -> trigger event, 3 runs (p50 / worst)"][0])
    lag = rows["worst event-loop lag, 3 runs (client CPU s)"]
    assert re.fullmatch(r"\d+ ms \([\d.]+ s\)", lag[0])
    assert re.fullmatch(r"\d+ ms \([\d.]+ s\)", lag[1])

    for name in ("download to file://, 8 MiB (MiB/s)", "download to S3 on moto, 8 MiB (MiB/s)"):
        ours, baseline, ratio, target, verdict = rows[name][:5]
        assert ours.isdigit(), rows[name]
        assert re.match(r"\d+ \(curl", baseline), rows[name]
        assert ratio.endswith("%"), rows[name]
        if "S3" in name:
            assert (target, verdict) == ("none (for S3 the target is its RSS)", "")
        else:
            assert target == ">= 80% of curl"
            assert verdict == "met" or verdict.startswith("MISSED by")
    assert rows["4 files at once to file://, 2 MiB each (MiB/s)"][2].endswith("%")
    for name in (
        "download to file://, 8 MiB (MiB/s, with sha256=True)",
        "4 files at once to file://, 2 MiB each (MiB/s, with sha256=True)",
    ):
        ours, baseline, ratio, target, verdict, bound = rows[name]
        assert ours.isdigit(), rows[name]
        assert ratio.endswith("%"), rows[name]
        assert re.match(r"\d+ \(curl", baseline), rows[name]
        assert target == "none (opt-in, for information)"
        assert verdict == ""
        assert bound.startswith("SHA-256 at about 2 GB/s per core (the defaults, without it: ")
    assert not any("sha256=False" in name for name in rows)
    assert re.fullmatch(r"[\d.]+ MiB", rows["download to file://: peak RSS growth (worst run)"][0])
    assert re.fullmatch(r"[\d.]+ MiB", rows["download to S3 on moto: peak RSS growth"][0])

    cap = rows["answer cap: cost per 500-run list answer (µs)"]
    assert re.fullmatch(r"-?\d+\.\d", cap[0]), cap
    assert re.fullmatch(r'[\d.]+ \(b"".join; BodyCollector [\d.]+\)', cap[1]), cap
    assert re.fullmatch(r"-?[\d.]+% of its parse", cap[2]), cap
    assert cap[3:5] == ["none (issue 11: say what it costs)", ""]
    assert re.match(r"its parse: [\d.]+ ms with every record reused", cap[5]), cap
    stall_row = r"loop stall while parsing a ([\d.]+) MiB list answer \(500 runs\): on the loop vs off it \(ms\)"
    stalls = {match.group(1): cells for name, cells in rows.items() if (match := re.fullmatch(stall_row, name))}
    assert sorted(stalls, key=float) == ["0.3", "5.0"], rows.keys()
    for size, cells in stalls.items():
        assert re.fullmatch(r"[\d.]+ / [\d.]+", cells[0]), cells
        assert re.fullmatch(r"on/off [\d.]+x", cells[2]), cells
        way = "on the loop" if size == "0.3" else "off the loop"
        assert cells[5].startswith(f"adrive parses it {way} (threshold 4 MiB); wall "), cells

    assert re.match(r"\d+ req/s \(\d+ per emulator CPU-s\)", rows["emulator: live_status"][0])
    assert "- Polling: the busiest scenario" in report
    assert "- Download: the emulator served" in report

    # Only a throwaway key exists here, but signed URLs and keys must stay out of reports all the same.
    for secret in ("bench-key", "bench-download-key", "signature=", "expires="):
        assert secret not in report, secret
        assert secret not in out, secret


def test_a_missing_script_is_reported_as_not_run(tmp_path: Path) -> None:
    empty = tmp_path / "bench"
    empty.mkdir()
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "polling,download", "--bench-dir", str(empty), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    report = report_path.read_text()
    assert "- polling (polling.py): not run: script missing (bench/polling.py)" in report
    assert "- download (download.py): not run: script missing (bench/download.py)" in report
    assert "No figures: no benchmark ran." in report


FAKE_HELP = "import argparse, sys\np = argparse.ArgumentParser()\np.add_argument('--json')\n"


def test_a_failing_or_silent_script_is_reported_as_not_run(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "download.py").write_text(FAKE_HELP + "p.parse_known_args()\nprint('boom')\nsys.exit(3)\n")
    # Prints a table-like line but writes no --json: printed text is not read as figures.
    (bench / "polling.py").write_text(FAKE_HELP + "p.parse_known_args()\nprint('mode runs wall s')\n")
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "polling,download", "--bench-dir", str(bench), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    report = report_path.read_text()
    assert "- download (download.py): not run: failed with exit code 3" in report
    assert "- polling (polling.py): not run: no figures: the script finished without writing its --json file" in report
    assert "No figures: no benchmark ran." in report


def test_run_all_reports_download_figures_from_the_json_file(tmp_path: Path) -> None:
    def stats(*values: float) -> dict[str, object]:
        return {"median": sorted(values)[len(values) // 2], "max": max(values), "all": list(values)}

    def variant(name: str, sha256: bool, rate: float, curl: float | None) -> dict[str, object]:
        ratio = stats(100 * rate / curl) if curl else None
        return {
            "name": name,
            "sha256": sha256,
            "mib_s": stats(rate),
            "ratio_to_curl_pct": ratio,
            "rss_growth_mib": stats(3.0),
        }

    scenarios = {
        "file": {
            "title": "1 file of 64 MiB to file://", "files": 1, "mib": 64, "rounds": 1,
            "curl": {"label": "curl -o", "mib_s": stats(1000.0)},
            "variants": [variant("defaults", False, 900.0, 1000.0), variant("with sha256=True", True, 500.0, 1000.0)],
            "rss_growth_mib": stats(3.0, 70.0),
        },
        "s3": {
            "title": "1 file of 64 MiB to s3:// on moto", "files": 1, "mib": 64, "rounds": 1, "curl": None,
            "variants": [variant("defaults", False, 100.0, None)], "rss_growth_mib": stats(30.0),
        },
    }  # fmt: skip
    bench = tmp_path / "bench"
    bench.mkdir()
    document = json.dumps({"scenarios": scenarios})
    (bench / "download.py").write_text(
        FAKE_HELP + f"a, _ = p.parse_known_args()\nopen(a.json, 'w').write({document!r})\nprint('nothing to parse')\n"
    )
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "download", "--bench-dir", str(bench), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    rows = summary_rows(report_path.read_text())
    assert rows["download to file://, 64 MiB (MiB/s)"] == ["900", "1000 (curl -o)", "90%", ">= 80% of curl", "met", ""]
    assert rows["download to file://, 64 MiB (MiB/s, with sha256=True)"] == [
        "500",
        "1000 (curl -o)",
        "50%",
        "none (opt-in, for information)",
        "",
        "SHA-256 at about 2 GB/s per core (the defaults, without it: 900 MiB/s)",
    ]
    assert rows["download to file://: peak RSS growth (worst run)"][:4] == ["70.0 MiB", "", "", "< 64 MiB"]
    assert rows["download to file://: peak RSS growth (worst run)"][4] == "MISSED by 6.0 MiB"
    s3 = rows["download to S3 on moto, 64 MiB (MiB/s)"]
    assert s3 == [
        "100",
        "1000 (curl -o (to disk, same URL))",
        "10%",
        "none (for S3 the target is its RSS)",
        "",
        "moto's S3, a Python server on the same 2 cores, takes every byte",
    ]


def test_run_all_reports_answer_figures_from_the_json_file(tmp_path: Path) -> None:
    def stall(answer: str, mib: float, route: str, default: bool, stall_ms: float, gc_ms: float) -> dict[str, object]:
        return {
            "answer": answer, "bytes": int(mib * 2**20), "mib": mib, "runs": 500, "route": route,
            "adrive_default": default, "samples": 3, "wall_ms": 3000.0, "stall_ms": stall_ms,
            "worst_stall_ms": stall_ms, "gc_pause_ms": gc_ms, "full_collections": 1,
        }  # fmt: skip

    cap = {
        "runs": 500, "body_bytes": 275000, "chunks": 5, "chunk_kib": 64, "repeat": 25, "collector_us": 6.0,
        "join_us": 3.0, "extra_us": 3.0, "parse_fresh_us": 12000.0, "parse_reused_us": 3000.0,
        "extra_pct_of_parse_fresh": 0.025, "extra_pct_of_parse_reused": 0.1,
    }  # fmt: skip
    stalls = [
        stall("500-run list", 0.26, "on the loop", True, 12.0, 0.1),
        stall("500-run list", 0.26, "off the loop", False, 6.0, 0.1),
        stall("~32 MiB list", 31.86, "on the loop", False, 3200.0, 4.0),
        stall("~32 MiB list", 31.86, "off the loop", True, 40.0, 55.0),
    ]
    document = json.dumps({"cap": cap, "stalls": stalls, "idle_stall_ms": 0.4, "off_loop_parse_bytes": 4 * 2**20})
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "answers.py").write_text(
        FAKE_HELP + f"a, _ = p.parse_known_args()\nopen(a.json, 'w').write({document!r})\n"
    )
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "answers", "--bench-dir", str(bench), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    rows = summary_rows(report_path.read_text())
    assert rows["answer cap: cost per 500-run list answer (µs)"] == [
        "3.0",
        '3.0 (b"".join; BodyCollector 6.0)',
        "0.100% of its parse",
        "none (issue 11: say what it costs)",
        "",
        "its parse: 3.0 ms with every record reused (the poller's steady state), 12.0 ms fresh (0.025%); "
        "0.26 MiB in 5 chunks of 64 KiB",
    ]
    small = rows["loop stall while parsing a 0.3 MiB list answer (500 runs): on the loop vs off it (ms)"]
    assert small[:2] == ["12.0 / 6.0", ""]
    assert small[2] == "on/off 2.0x"
    assert small[5] == (
        "adrive parses it on the loop (threshold 4 MiB); wall 3000 / 3000 ms; an idle loop overslept up to 0.4 ms"
    )
    big = rows["loop stall while parsing a 31.9 MiB list answer (500 runs): on the loop vs off it (ms)"]
    assert big[0] == "3200.0 / 40.0"
    assert big[5].startswith("adrive parses it off the loop (threshold 4 MiB)")
    assert big[5].endswith("; a garbage collection, from either thread, stopped the loop for up to 55 ms")


@pytest.mark.parametrize(
    ("lag_ms", "floor_ms", "verdict"),
    [
        (80.0, 110.0, "met"),
        (150.0, 60.0, "MISSED by 50 ms"),
        (150.0, 110.0, "MISSED by 50 ms (out of reach: one full collection costs 110 ms before any trigger)"),
    ],
)
def test_the_lag_verdict_at_5000_runs_names_a_floor_above_the_target(
    tmp_path: Path, lag_ms: float, floor_ms: float, verdict: str
) -> None:
    record = {
        "mode": "shared", "runs": 5000, "interval": 5.0, "wall_s": 75.0, "lists": 100, "live": 5000,
        "req_per_min": 4100.0, "poll_per_min": 130.0, "calls_per_run": 1.0, "cpu_s": 40.0, "lag_ms": lag_ms,
        "lag_no_gc_ms": 40.0, "gc_pause_ms": lag_ms, "full_collections": 4, "p50_s": 3.0, "worst_s": 6.0,
        "ends_seen": 5000, "ends": {"success": 5000}, "full_collection_floor_ms": floor_ms,
    }  # fmt: skip
    document = json.dumps({"results": [record], "full_collection_floor_ms": floor_ms})
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "polling.py").write_text(
        FAKE_HELP + f"a, _ = p.parse_known_args()\nopen(a.json, 'w').write({document!r})\n"
    )
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "polling", "--bench-dir", str(bench), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    row = summary_rows(report_path.read_text())["worst event-loop lag, 5000 runs (client CPU s)"]
    assert row[3:5] == ["< 100 ms", verdict]
    assert f"a full collection costs at least {floor_ms:.0f} ms here before any trigger exists" in row[5]


def test_run_all_rejects_an_unknown_step(tmp_path: Path) -> None:
    result = run_all("--only", "parse,speed", "--output", str(tmp_path / "B.md"), timeout=60)
    assert result.returncode == 2
    assert "--only: unknown speed; choose from parse, ceiling, polling, download, answers" in result.stderr
    assert not (tmp_path / "B.md").exists()


def test_run_all_passes_the_profile_flags_and_its_json_file(tmp_path: Path) -> None:
    run_all_module = load_bench_module("run_all")
    script = tmp_path / "fake.py"
    command = run_all_module.build_command(script, {"--size-mib": "8", "--fsync": None}, tmp_path / "x.json")
    assert command == [sys.executable, str(script), "--size-mib", "8", "--fsync", "--json", str(tmp_path / "x.json")]


def test_a_script_that_does_not_take_a_flag_is_reported_as_not_run(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "download.py").write_text(FAKE_HELP + "p.parse_args()\n")  # refuses --size-mib: exit code 2
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "download", "--bench-dir", str(bench), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    assert "- download (download.py): not run: failed with exit code 2" in report_path.read_text()


def test_run_all_reads_the_emulator_ceiling_from_its_json_file_not_its_printed_lines(tmp_path: Path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    results = {"live_status": 1234.4, "live_status [per emulator CPU-second]": 2000.0, "download 4 MiB (MB/s)": 99.0}
    document = json.dumps({"results": results})
    (bench / "emulator_ceiling.py").write_text(
        FAKE_HELP + f"a, _ = p.parse_known_args()\nopen(a.json, 'w').write({document!r})\n"
        "print('  live_status' + ' ' * 70 + '1 req/s')\n"
    )
    report_path = tmp_path / "BENCHMARKS.md"
    result = run_all("--only", "ceiling", "--bench-dir", str(bench), "--output", str(report_path), timeout=60)
    assert result.returncode == 0, result.stderr
    rows = summary_rows(report_path.read_text())
    assert rows["emulator: live_status"][0] == "1234 req/s (2000 per emulator CPU-s)"
    assert rows["emulator: download 4 MiB"][0] == "99 MB/s"


def test_importtime_attributes_each_import_to_its_importer(tmp_path: Path) -> None:
    parse_cost = load_bench_module("parse_cost")
    (tmp_path / "bench_outer.py").write_text("import bench_middle\n")
    (tmp_path / "bench_middle.py").write_text("import bench_inner\n")
    (tmp_path / "bench_inner.py").write_text("import colorsys\nx = sum(range(10000))\n")
    code = textwrap.dedent(
        f"""
        import sys
        import json
        print({parse_cost.MARK!r}, file=sys.stderr, flush=True)
        import bench_outer
        """
    )
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    lines = {line.name: line for line in parse_cost.parse_importtime(out.stderr)}
    assert "json" not in lines  # imported before the mark: the base import's, not ours
    assert lines["bench_outer"].chain == ()
    assert lines["bench_middle"].chain == ("bench_outer",)
    assert lines["bench_inner"].chain == ("bench_outer", "bench_middle")
    assert lines["colorsys"].chain == ("bench_outer", "bench_middle", "bench_inner")
    assert lines["bench_outer"].cumulative_us >= lines["bench_inner"].cumulative_us >= lines["bench_inner"].self_us
    assert parse_cost.importer(lines["colorsys"]) == "bench_inner"


def test_format_table_aligns_plain_and_markdown() -> None:
    common = load_bench_module("common")
    plain = common.format_table(["name", "ms"], [["a", 1.25], ["longer", 250.0], ["none", float("nan")]])
    assert plain.splitlines() == ["name     ms", "-----------", "a       1.2", "longer  250", "none    n/a"]
    markdown = common.format_table(["name", "ms"], [["a", 1.5]], markdown=True, right=[1])
    assert markdown.splitlines() == ["| name |  ms |", "|------|----:|", "| a    | 1.5 |"]
