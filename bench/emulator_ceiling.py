"""How many requests per second the Sixtyfour emulator sustains, measured from a separate client process.

Starts ``sixtyfour-emulator`` as a subprocess (rate limit off) unless ``--url`` points at a running one,
seeds runs, then hammers ``live_status`` and ``GET /workflows/runs`` with keep-alive aiohttp clients
and prints requests per second for each scenario, and the download throughput of a large result file
(with ``--json PATH``, it also writes those figures there: ``{"results": {scenario: value}}``).
Wall-clock req/s includes the client's cost on the same machine; "[per emulator CPU-second]" divides
the requests by the emulator process's own CPU time, i.e. its ceiling on one free core.

    python bench/emulator_ceiling.py [--seconds 5] [--concurrency 32] [--active-runs 5000] [--download-mib 1024]
        [--json ceiling.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from common import EmulatorProcess

API_KEY = "bench-key"
HEADERS = {"x-api-key": API_KEY}


def start_emulator() -> tuple[subprocess.Popen[str], str]:
    """The emulator in its own process (rate limit off); its process and base URL."""
    emulator = EmulatorProcess(api_key=API_KEY).start()
    assert emulator.proc is not None
    return emulator.proc, emulator.base_url


async def start_runs(session: aiohttp.ClientSession, base: str, workflow_id: str, count: int) -> list[str]:
    ids: list[str] = []
    sem = asyncio.Semaphore(32)

    async def one(i: int) -> None:
        async with sem:
            body = {"webhook_payload": [{"name": f"Lead {i}", "company": "Acme"}]}
            async with session.post(f"{base}/workflows/run", params={"workflow_id": workflow_id}, json=body) as resp:
                resp.raise_for_status()
                ids.append((await resp.json())["job_id"])

    await asyncio.gather(*(one(i) for i in range(count)))
    return ids


async def hammer(
    session: aiohttp.ClientSession, seconds: float, concurrency: int, request: Callable[[], Awaitable[int]]
) -> tuple[float, int]:
    done = 0
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done, errors
        while time.perf_counter() < deadline:
            status = await request()
            done += 1
            if status != 200:
                errors += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - start), errors


def cpu_seconds(pid: int | None) -> float:
    """User+system CPU seconds of process ``pid`` so far (Linux ``/proc``), or 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def get(session: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None) -> int:
    async with session.get(url, params=params) as resp:
        await resp.read()
        return resp.status


async def download(session: aiohttp.ClientSession, base: str, mib: int) -> tuple[float, int]:
    spec = {
        "workflow_id": "wf-bench-download",
        "blocks": ["webhook", "enrich_lead"],
        "duration_seconds": 0.1,
        "queue_seconds": 0,
        "result_bytes": mib * 1024 * 1024,
    }
    async with session.post(f"{base}/_emulator/workflows", json=spec) as resp:
        resp.raise_for_status()
    (job_id,) = await start_runs(session, base, "wf-bench-download", 1)
    await asyncio.sleep(0.3)
    async with session.get(f"{base}/workflows/runs/{job_id}/results/download-links") as resp:
        links = await resp.json()
    url = links[-1]["download_url"]
    start = time.perf_counter()
    size = 0
    async with session.get(url) as resp:
        async for chunk in resp.content.iter_chunked(1 << 20):
            size += len(chunk)
    return size / (time.perf_counter() - start) / 1e6, size


async def main_async(args: argparse.Namespace, base: str, pid: int | None) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    results: dict[str, Any] = {}
    async with aiohttp.ClientSession(headers=HEADERS, connector=connector) as session:
        ids = await start_runs(session, base, "wf-demo-webhook", 200)
        t0 = time.perf_counter()
        slow = await start_runs(session, base, "wf-demo-slow", args.active_runs)
        results["run starts (POST /workflows/run)"] = args.active_runs / (time.perf_counter() - t0)
        everything = ids + slow

        def live() -> Awaitable[int]:
            return get(session, f"{base}/workflows/runs/{random.choice(everything)}/live_status")

        def listing() -> Awaitable[int]:
            return get(session, f"{base}/workflows/runs", {"limit": "100"})

        def active() -> Awaitable[int]:
            return get(session, f"{base}/workflows/runs", {"status": "active", "limit": "500"})

        def completed() -> Awaitable[int]:
            return get(session, f"{base}/workflows/runs", {"status": "completed", "limit": "100"})

        for name, request in (
            ("live_status", live),
            ("list runs limit=100", listing),
            (f"list runs status=active limit=500 ({args.active_runs} active)", active),
            ("list runs status=completed limit=100", completed),
        ):
            cpu_before, wall_before = cpu_seconds(pid), time.perf_counter()
            rate, errors = await hammer(session, args.seconds, args.concurrency, request)
            results[name] = rate
            cpu = cpu_seconds(pid) - cpu_before
            if cpu > 0:
                # Requests per second of emulator CPU: its ceiling on one free core, whatever the client costs.
                requests_done = rate * (time.perf_counter() - wall_before)
                results[f"{name} [per emulator CPU-second]"] = requests_done / cpu
            if errors:
                results[f"{name} errors"] = errors
        if args.download_mib:
            mb_s, size = await download(session, base, args.download_mib)
            results[f"download {size / 2**20:.0f} MiB (MB/s)"] = mb_s
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running emulator (rate limit off) instead of starting one")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--active-runs", type=int, default=5000)
    parser.add_argument("--download-mib", type=int, default=1024, help="0 skips the download test")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    proc = None
    base = args.url
    if base is None:
        proc, base = start_emulator()
    try:
        results = asyncio.run(main_async(args, base, proc.pid if proc is not None else None))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    print(f"emulator at {base}, {os.cpu_count()} CPUs, {args.concurrency} concurrent keep-alive clients")
    for name, value in results.items():
        unit = "" if "MB/s" in name or "errors" in name or "CPU" in name else " req/s"
        print(f"  {name:<76} {value:>8.0f}{unit}")
    if args.json is not None:
        document = {"base_url": base, "concurrency": args.concurrency, "results": results}
        args.json.write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    main()
