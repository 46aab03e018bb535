"""Download throughput and memory of ``land_results`` against ``curl -o``, on the same machine and run.

Starts ``sixtyfour-emulator`` in its own process with two workflows: one whose single result file is
``--size-mib`` MiB (1 GiB by default) and one with four ``--quad-mib`` MiB files. For each round it
downloads the big file with ``curl -o`` and with ``land_results`` to ``file://`` (alternating, so
both see the same machine load), then (unless ``--skip-s3``) lands it in S3 on a moto server, and
lands the four files at once against four parallel ``curl`` transfers.

Each ``land_results`` runs in a fresh child process that measures its own memory: it resets the
kernel's peak-RSS mark (``/proc/self/clear_refs``) right before landing and reads ``VmHWM`` after,
so "RSS growth" is the peak during the download over the RSS it started with. Each ``file://``
scenario runs ``land_results`` twice per round: with ``DownloadOptions()`` as users get it (the
"defaults": no SHA-256, no fsync; every file still verified by its byte count), and with the opt-in
checksum, "with sha256=True" (SHA-256 runs at about 2 GB/s per core, slower than curl's loopback
copy). The S3 scenario runs the defaults only. The child reports the options it used and whether
its files came back with a SHA-256, and the parent stops if that contradicts a variant's label.
Prints figures only; ``--json PATH`` also writes them as JSON (what ``bench/run_all.py`` reads).

    python bench/download.py [--size-mib 1024] [--quad-mib 256] [--rounds 3] [--skip-s3] [--json PATH]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import EmulatorProcess

API_KEY = "bench-download-key"
CONN_ID = "sixtyfour_bench"
AWS_CONN_ID = "aws_bench"
MiB = 1 << 20
ONE_WORKFLOW = "wf-bench-one"
QUAD_WORKFLOW = "wf-bench-quad"
REPORTED_OPTIONS = ("max_concurrency", "chunk_size", "fsync", "sha256")
# (label, --sha256 passed to the child): the defaults first, then the opt-in checksum.
VARIANTS = (("defaults", False), ("with sha256=True", True))
TARGET_RSS_MIB = 64


# --------------------------------------------------------------------------------------------------
# Child: one land_results call, measuring its own memory
# --------------------------------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def child(args: argparse.Namespace) -> None:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.transfers import DownloadOptions, land_results
    from airflow_provider_sixtyfour.transfers.destination import resolve_destination

    # DownloadOptions() as users get it, changed only where a flag asks for it.
    overrides: dict[str, Any] = {}
    if args.concurrency is not None:
        overrides["max_concurrency"] = args.concurrency
    if args.chunk_kib is not None:
        overrides["chunk_size"] = args.chunk_kib * 1024
    if args.fsync:
        overrides["fsync"] = True
    if args.sha256:
        overrides["sha256"] = True
    options = dataclasses.replace(DownloadOptions(), **overrides)
    with SixtyfourHook(sixtyfour_conn_id=CONN_ID) as hook:
        hook.get_live_status(args.job)  # connection, settings and HTTP client ready before measuring
        resolve_destination(args.dest, args.dest_conn).prepare()  # the store's client too
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            reset = True
        except OSError:
            reset = False
        rss_start = _status_kib("VmRSS")
        hwm_start = _status_kib("VmHWM")
        started = time.perf_counter()
        landed = land_results(hook, args.job, args.dest, destination_conn_id=args.dest_conn, options=options)
        seconds = time.perf_counter() - started
        hwm_end = _status_kib("VmHWM")
    base = rss_start if reset else hwm_start
    print(
        json.dumps(
            {
                "seconds": seconds,
                "bytes": sum(f.bytes for f in landed),
                "files": len(landed),
                "rss_start_mib": rss_start / 1024,
                "rss_growth_mib": max(0, hwm_end - base) / 1024,
                "peak_reset": reset,
                "options": {k: v for k, v in dataclasses.asdict(options).items() if k in REPORTED_OPTIONS},
                "hashed_files": sum(1 for f in landed if f.sha256),
            }
        )
    )


# --------------------------------------------------------------------------------------------------
# Parent: servers, curl, children
# --------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_emulator(size: int, quad: int, workdir: Path) -> tuple[subprocess.Popen[str], str]:
    config = {
        "api_keys": [API_KEY],
        "include_default_workflows": False,
        "rate_limit_per_minute": None,
        "workflows": [
            {"workflow_id": ONE_WORKFLOW, "blocks": ["webhook"], "duration_seconds": 0.2, "result_bytes": size},
            {
                "workflow_id": QUAD_WORKFLOW,
                "blocks": ["webhook", "enrich_lead", "find_email", "find_phone"],
                "duration_seconds": 0.2,
                "result_bytes": quad,
            },
        ],
    }
    emulator = EmulatorProcess(api_key=API_KEY, config=config, config_dir=workdir).start()
    assert emulator.proc is not None
    return emulator.proc, emulator.base_url


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    # Generous: on two cores busy with a whole test suite, a Python server can take long to start.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, url
        except OSError:
            time.sleep(0.1)
        if proc.poll() is not None:
            raise SystemExit(f"moto server exited with code {proc.returncode} before it listened on {url}")
    proc.kill()
    raise SystemExit(f"moto server did not listen on {url} within 120 s")


def finished_run(workflow_id: str) -> str:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    with SixtyfourHook(sixtyfour_conn_id=CONN_ID) as hook:
        job_id = hook.run_workflow(workflow_id).job_id
        while not hook.get_live_status(job_id).status.is_terminal:
            time.sleep(0.1)
    return str(job_id)


def signed_urls(job_id: str) -> list[str]:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    with SixtyfourHook(sixtyfour_conn_id=CONN_ID) as hook:
        return [str(link.download_url) for link in hook.get_download_links(job_id)]


def curl(urls: list[str], folder: Path) -> float:
    """Seconds for curl to fetch every URL (in parallel when several) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    command = ["curl", "-s", "-S", "-f", "--no-progress-meter"]
    if len(urls) > 1:
        command += ["-Z", "--parallel-max", str(len(urls))]
    for i, url in enumerate(urls):
        command += ["-o", str(folder / f"curl-{i}.csv"), url]
    started = time.perf_counter()
    subprocess.run(command, check=True)
    seconds = time.perf_counter() - started
    shutil.rmtree(folder)
    return seconds


def land(job_id: str, dest: str, env: dict[str, str], args: argparse.Namespace, **kw: Any) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--child",
        "--job",
        job_id,
        "--dest",
        dest,
    ]
    if kw.get("concurrency") is not None:
        command += ["--concurrency", str(kw["concurrency"])]
    if args.chunk_kib is not None:
        command += ["--chunk-kib", str(args.chunk_kib)]
    if kw.get("sha256"):
        command.append("--sha256")
    if kw.get("dest_conn"):
        command += ["--dest-conn", kw["dest_conn"]]
    if args.fsync:
        command.append("--fsync")
    proc = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    result = dict(json.loads(proc.stdout.strip().splitlines()[-1]))
    hashed = result["options"]["sha256"]
    if hashed != bool(kw.get("sha256")) or bool(result["hashed_files"]) != hashed:
        raise SystemExit(
            f"land_results ran with sha256={hashed} and hashed {result['hashed_files']} of {result['files']} files, "
            f"but this variant expects sha256={bool(kw.get('sha256'))}: has DownloadOptions' default changed?"
        )
    return result


def mib_s(nbytes: int, seconds: float) -> float:
    return nbytes / MiB / seconds


def stats(values: list[float]) -> dict[str, Any]:
    return {"median": statistics.median(values), "max": max(values), "all": [round(v, 1) for v in values]}


def summary(label: str, values: list[float], unit: str) -> str:
    figures = stats(values)
    return f"{label}: median {figures['median']:.1f} {unit}, max {figures['max']:.1f}, all {figures['all']}"


def compare_with_curl(
    job_id: str,
    nbytes: int,
    curl_label: str,
    env: dict[str, str],
    args: argparse.Namespace,
    workdir: Path,
    concurrency: int | None = None,
) -> dict[str, Any]:
    """``args.rounds`` rounds of curl then ``land_results`` in each variant to ``file://``; prints, returns figures."""
    curl_rates: list[float] = []
    rates: dict[str, list[float]] = {label: [] for label, _ in VARIANTS}
    growth: dict[str, list[float]] = {label: [] for label, _ in VARIANTS}
    options: dict[str, Any] = {}
    for _ in range(args.rounds):
        curl_rates.append(mib_s(nbytes, curl(signed_urls(job_id), workdir / "curl")))
        for label, sha256 in VARIANTS:
            result = land(job_id, f"file://{workdir}/ours/", env, args, concurrency=concurrency, sha256=sha256)
            shutil.rmtree(workdir / "ours")
            rates[label].append(mib_s(result["bytes"], result["seconds"]))
            growth[label].append(result["rss_growth_mib"])
            options.setdefault(label, result["options"])
    print("  " + summary(f"{curl_label:<28}", curl_rates, "MiB/s"))
    for label, _ in VARIANTS:
        name = "land_results (defaults)" if label == "defaults" else f"same {label}"
        print("  " + summary(f"{name:<28}", rates[label], "MiB/s"))
    variants = []
    for label, sha256 in VARIANTS:
        ratios = [100 * o / c for o, c in zip(rates[label], curl_rates, strict=True)]
        print("  " + summary(f"ratio to curl, {label}, round by round", ratios, "%"))
        variants.append(
            {
                "name": label,
                "sha256": sha256,
                "options": options[label],
                "mib_s": stats(rates[label]),
                "ratio_to_curl_pct": stats(ratios),
                "rss_growth_mib": stats(growth[label]),
            }
        )
    every = [g for label, _ in VARIANTS for g in growth[label]]
    print("  " + summary("peak RSS growth (all runs)", every, "MiB") + f" (target < {TARGET_RSS_MIB} MiB)")
    return {
        "rounds": args.rounds,
        "curl": {"label": curl_label, "mib_s": stats(curl_rates)},
        "variants": variants,
        "rss_growth_mib": stats(every),
    }


def to_s3(one_job: str, moto_url: str, env: dict[str, str], args: argparse.Namespace) -> dict[str, Any]:
    """One ``land_results`` with its defaults into S3 on the moto server at ``moto_url``; prints, returns figures."""
    import boto3

    boto3.client(
        "s3",
        endpoint_url=moto_url,
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        region_name="us-east-1",
    ).create_bucket(Bucket="bench")
    s3_env = dict(env)
    s3_env[f"AIRFLOW_CONN_{AWS_CONN_ID.upper()}"] = json.dumps(
        {
            "conn_type": "aws",
            "login": "bench",
            "password": "bench",
            "extra": {"endpoint_url": moto_url, "region_name": "us-east-1"},
        }
    )
    result = land(one_job, "s3://bench/sixtyfour/", s3_env, args, dest_conn=AWS_CONN_ID)
    rate = mib_s(result["bytes"], result["seconds"])
    print(f"  land_results (defaults): {rate:.1f} MiB/s")
    print(f"  peak RSS growth: {result['rss_growth_mib']:.1f} MiB (target < {TARGET_RSS_MIB} MiB)")
    variant = {
        "name": "defaults",
        "sha256": False,
        "options": result["options"],
        "mib_s": stats([rate]),
        "ratio_to_curl_pct": None,
        "rss_growth_mib": stats([result["rss_growth_mib"]]),
    }
    return {"rounds": 1, "curl": None, "variants": [variant], "rss_growth_mib": stats([result["rss_growth_mib"]])}


def parent(args: argparse.Namespace) -> None:
    size, quad = args.size_mib * MiB, args.quad_mib * MiB
    workdir = Path(tempfile.mkdtemp(prefix="bench-download-"))
    emulator, base_url = start_emulator(size, quad, workdir)
    moto: subprocess.Popen[bytes] | None = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    env[f"AIRFLOW_CONN_{CONN_ID.upper()}"] = json.dumps(
        {"conn_type": "sixtyfour", "host": base_url, "password": API_KEY}
    )
    os.environ.update(env)
    scenarios: dict[str, dict[str, Any]] = {}
    try:
        from airflow_provider_sixtyfour.transfers import DownloadOptions

        defaults = DownloadOptions()
        load = os.getloadavg()[0]
        chunk_kib = args.chunk_kib if args.chunk_kib is not None else defaults.chunk_size // 1024
        print(
            f"machine: {os.cpu_count()} cores, load average {load:.2f}; chunk {chunk_kib} KiB, fsync {args.fsync}; "
            f"defaults = DownloadOptions() (sha256={defaults.sha256}, fsync={defaults.fsync}, "
            f"max_concurrency={defaults.max_concurrency})"
        )
        one_job, quad_job = finished_run(ONE_WORKFLOW), finished_run(QUAD_WORKFLOW)

        title = f"1 file of {args.size_mib} MiB to file://"
        print(f"\n{title} ({args.rounds} round{'s' if args.rounds != 1 else ''}, curl and land_results alternating)")
        figures = compare_with_curl(one_job, size, "curl -o", env, args, workdir)
        scenarios["file"] = {"title": title, "files": 1, "mib": args.size_mib, **figures}

        if not args.skip_s3:
            title = f"1 file of {args.size_mib} MiB to s3:// on moto"
            print(f"\n{title} (one run)")
            moto, moto_url = start_moto()
            figures = to_s3(one_job, moto_url, env, args)
            scenarios["s3"] = {"title": title, "files": 1, "mib": args.size_mib, **figures}

        title = f"4 files of {args.quad_mib} MiB at once to file://"
        print(f"\n{title} (curl -Z --parallel-max 4 vs max_concurrency=4)")
        figures = compare_with_curl(quad_job, 4 * quad, "curl -Z", env, args, workdir, concurrency=4)
        scenarios["quad"] = {"title": title, "files": 4, "mib": args.quad_mib, **figures}
        if args.json:
            document = {
                "machine": {"cores": os.cpu_count(), "load_average": load},
                "settings": {"chunk_kib": chunk_kib, "fsync": args.fsync, "rounds": args.rounds},
                "scenarios": scenarios,
            }
            args.json.write_text(json.dumps(document, indent=2))
    finally:
        emulator.terminate()
        emulator.wait(10)
        if moto is not None:
            moto.terminate()
            moto.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the single big file (default 1024)")
    parser.add_argument("--quad-mib", type=int, default=256, help="size of each of the four files (default 256)")
    parser.add_argument("--rounds", type=int, default=3, help="curl/land_results pairs per scenario (default 3)")
    parser.add_argument(
        "--chunk-kib", type=int, default=None, help="DownloadOptions.chunk_size in KiB (default: the library's)"
    )
    parser.add_argument("--fsync", action="store_true", help="fsync files before the rename (curl does not)")
    parser.add_argument("--skip-s3", action="store_true", help="skip the S3 (moto) scenario")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--sha256", action="store_true", help=argparse.SUPPRESS)  # child: the opt-in checksum
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    parser.add_argument("--dest", help=argparse.SUPPRESS)
    parser.add_argument("--dest-conn", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--concurrency", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
    else:
        parent(args)


if __name__ == "__main__":
    main()
