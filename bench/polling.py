"""What waiting for many Sixtyfour runs costs: the shared poller against one poller per run.

Starts ``sixtyfour-emulator`` in a separate process (rate limit off), then, for each ``--runs`` N, runs N
``SixtyfourWorkflowRunTrigger`` in this process's one event loop, as a triggerer would, and measures:

* API requests per minute, from the emulator's ``/_emulator/stats`` (status polls only: the list and
  ``live_status`` routes), and how many of them were not the one final read each run needs;
* CPU seconds of this (client) process;
* the worst event-loop lag (a ticker task measuring how late its sleeps wake up);
* detection latency: the run's ``completed_at`` (from its final record) to the moment its event arrived.

The baseline in the same run is what other providers do: one poller per run, each with its own client,
asking ``live_status`` every interval.

Runs are started over a ramp while the workflows' durations are spread, so that their ends are spread
evenly over ``--spread`` seconds; all N runs are in flight together before the first one ends.

    python bench/polling.py                       # 1,000 runs shared, 1,000 runs baseline (~3 minutes)
    python bench/polling.py --runs 10,100,1000,5000 --baseline 100,1000 --interval 5 --spread 150
    python bench/polling.py --json polling.json   # also write the figures (one record per scenario) as JSON

Targets (issue 3): under 500 requests a minute at 1,000 runs; every end seen within the poll interval
plus 2 s; loop lag under 100 ms at 5,000 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import GcClock, emulator_admin
from emulator_ceiling import API_KEY, start_emulator

from airflow_provider_sixtyfour.protocol.endpoints import LIST_RUNS, LIVE_STATUS

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

# Few workflows, as a real triggerer would see, each with its own duration; enough that none has more
# than 400 runs in flight (the API lists at most 500 at once).
MIN_WORKFLOWS = 8
RUNS_PER_WORKFLOW = 400


@dataclass
class Result:
    mode: str
    runs: int
    wall: float
    lists: int
    lives: int
    cpu: float
    lag: float
    lag_without_gc: float
    gc_pause: float
    full_collections: int
    latencies: list[float]
    statuses: dict[str, int]
    interval: float

    @property
    def polls(self) -> int:
        return self.lists + self.lives

    def per_minute(self, count: float) -> float:
        return count * 60.0 / self.wall


def poll_counts(base: str) -> tuple[int, int]:
    requests = emulator_admin(base, "stats")["requests"]
    return sum(requests.get(LIST_RUNS, {}).values()), sum(requests.get(LIVE_STATUS, {}).values())


def epoch(iso: str | None) -> float | None:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() if iso else None


def full_collection_floor(repeats: int = 5) -> float:
    """The fastest of a few full collections of the heap as it stands (seconds).

    Measured after the warm-up, before any trigger exists, it is the floor of every full collection in a
    scenario: the heap of Airflow's and httpx's own modules, which no change to the provider shrinks.
    """
    gc.collect()
    best = float("inf")
    for _ in range(repeats):
        began = time.perf_counter()
        gc.collect()
        best = min(best, time.perf_counter() - began)
    return best


async def lag_ticker(stop: asyncio.Event, worst: list[float], gc_clock: GcClock, step: float = 0.05) -> None:
    """Worst oversleep of a 50 ms sleep: ``worst[0]`` all told, ``worst[1]`` less garbage-collector pauses."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before, gc_before = loop.time(), gc_clock.total
        await asyncio.sleep(step)
        lag = loop.time() - before - step
        worst[0] = max(worst[0], lag)
        worst[1] = max(worst[1], lag - (gc_clock.total - gc_before))


def plan(base: str, label: str, runs: int, spread: float) -> tuple[list[tuple[float, str]], float]:
    """Workflows whose ends, with a start ramp, cover ``spread`` seconds evenly; returns (start offset, workflow)."""
    workflows = max(MIN_WORKFLOWS, math.ceil(runs / RUNS_PER_WORKFLOW))
    ramp = spread / workflows
    first_end = ramp + 5.0  # every run has started before the first one ends
    for k in range(workflows):
        spec = {
            "workflow_id": f"wf-bench-{label}-{k}",
            "first_block": "webhook",
            "duration_seconds": first_end + k * ramp,
            "queue_seconds": 0.2,
        }
        emulator_admin(base, "workflows", spec)
    starts = [(ramp * i / runs, f"wf-bench-{label}-{i % workflows}") for i in range(runs)]
    return starts, first_end + spread


async def start_runs(
    starts: list[tuple[float, str]],
    hook: SixtyfourAsyncHook,
    watch: Callable[[str], Coroutine[Any, Any, tuple[str, float]]],
) -> list[asyncio.Task[tuple[str, float]]]:
    """Start each run at its offset and hand it at once to ``watch`` (as an operator defers right after starting).

    Sixteen starters share the list (below the hook's connection pool of 20: queued requests cost
    httpcore CPU). In Airflow the runs start in workers, not in the triggerer, so the starters keep
    nothing per run in this process: a task per start waiting its turn would put thousands of tasks,
    futures and contexts on the heap that every full garbage collection of the scenario walks.
    """
    tasks: list[asyncio.Task[tuple[str, float]]] = []
    began = time.monotonic()
    queue = iter(starts)

    async def starter() -> None:
        for offset, workflow_id in queue:
            delay = offset - (time.monotonic() - began)
            if delay > 0:
                await asyncio.sleep(delay)
            job = await hook.run_workflow(workflow_id, [{"email": "lead@example.com"}])
            tasks.append(asyncio.create_task(watch(job.job_id)))

    await asyncio.gather(*(starter() for _ in range(16)))
    return tasks


async def watch_shared(job_id: str, interval: float) -> tuple[str, float]:
    from airflow_provider_sixtyfour.triggers.sixtyfour import SixtyfourWorkflowRunTrigger

    trigger = SixtyfourWorkflowRunTrigger(job_id=job_id, poll_interval=interval, deadline=time.time() + 3600)
    async for event in trigger.run():
        return json.dumps(event.payload), time.time()
    raise RuntimeError("no event")


async def watch_baseline(job_id: str, interval: float, hook: SixtyfourAsyncHook) -> tuple[str, float]:
    """One poller per run: ``live_status`` every interval until the run ends.

    The pollers share one client here (other providers' triggers each open their own, which costs the
    client process far more CPU): this baseline measures the request pattern, not client set-up.
    """
    from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable

    while True:
        status = await hook.get_live_status(job_id)
        if status.status.is_terminal:
            payload = {"status": status.status.value, "run": to_jsonable(status)}
            return json.dumps(payload), time.time()
        await asyncio.sleep(interval)


async def scenario(base: str, mode: str, runs: int, interval: float, spread: float) -> Result:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook

    starts, expected = plan(base, f"{mode}-{runs}", runs, spread)
    lists_before, lives_before = poll_counts(base)
    stop = asyncio.Event()
    worst = [0.0, 0.0]
    gc_clock = GcClock()
    gc.callbacks.append(gc_clock)
    ticker = asyncio.create_task(lag_ticker(stop, worst, gc_clock))
    cpu_before, began = time.process_time(), time.monotonic()
    async with SixtyfourAsyncHook() as hook:
        if mode == "shared":
            tasks = await start_runs(starts, hook, lambda job_id: watch_shared(job_id, interval))
        else:
            tasks = await start_runs(starts, hook, lambda job_id: watch_baseline(job_id, interval, hook))
        outcomes = await asyncio.wait_for(asyncio.gather(*tasks), expected + 120)
    wall, cpu = time.monotonic() - began, time.process_time() - cpu_before
    stop.set()
    await ticker
    gc.callbacks.remove(gc_clock)
    lists_after, lives_after = poll_counts(base)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    for text, arrived in outcomes:
        payload = json.loads(text)
        statuses[payload["status"]] = statuses.get(payload["status"], 0) + 1
        ended = epoch((payload.get("run") or {}).get("completed_at"))
        if ended is not None:
            latencies.append(arrived - ended)
    return Result(
        mode,
        runs,
        wall,
        lists_after - lists_before,
        lives_after - lives_before,
        cpu,
        worst[0],
        worst[1],
        gc_clock.worst,
        gc_clock.full_collections,
        latencies,
        statuses,
        interval,
    )


def figures(r: Result) -> dict[str, Any]:
    """The scenario's figures, as printed in the table and written with ``--json`` (None: no run end seen)."""
    # Every run needs one final read whatever the design; "poll/min" is what polling costs beyond it.
    beyond_final = r.polls - r.runs
    return {
        "mode": r.mode,
        "runs": r.runs,
        "interval": r.interval,
        "wall_s": r.wall,
        "lists": r.lists,
        "live": r.lives,
        "req_per_min": r.per_minute(r.polls),
        "poll_per_min": r.per_minute(beyond_final),
        "calls_per_run": r.polls / r.runs,
        "cpu_s": r.cpu,
        "lag_ms": r.lag * 1000,
        "lag_no_gc_ms": r.lag_without_gc * 1000,
        "gc_pause_ms": r.gc_pause * 1000,
        "full_collections": r.full_collections,
        "p50_s": statistics.median(r.latencies) if r.latencies else None,
        "worst_s": max(r.latencies) if r.latencies else None,
        "ends_seen": len(r.latencies),
        "ends": dict(sorted(r.statuses.items())),
    }


def table(results: list[Result]) -> str:
    head = (
        f"{'mode':<9}{'runs':>6}{'wall s':>8}{'lists':>7}{'live':>7}{'req/min':>9}{'poll/min':>9}{'calls/run':>10}"
        f"{'CPU s':>7}{'lag ms':>8}{'no-GC':>7}{'GC ms':>7}{'p50 s':>7}{'worst s':>8}  ends"
    )
    lines = [head, "-" * len(head)]
    nan = float("nan")
    for r in results:
        f = figures(r)
        p50 = nan if f["p50_s"] is None else f["p50_s"]
        worst = nan if f["worst_s"] is None else f["worst_s"]
        ends = ",".join(f"{k}={v}" for k, v in f["ends"].items())
        lines.append(
            f"{r.mode:<9}{r.runs:>6}{f['wall_s']:>8.1f}{f['lists']:>7}{f['live']:>7}{f['req_per_min']:>9.0f}"
            f"{f['poll_per_min']:>9.0f}{f['calls_per_run']:>10.1f}{f['cpu_s']:>7.1f}{f['lag_ms']:>8.0f}"
            f"{f['lag_no_gc_ms']:>7.0f}{f['gc_pause_ms']:>7.0f}{p50:>7.2f}{worst:>8.2f}  {ends}"
        )
    return "\n".join(lines)


def verdicts(results: list[Result]) -> list[str]:
    out = []
    for r in results:
        if r.mode != "shared":
            continue
        worst = max(r.latencies) if r.latencies else float("inf")
        verdict = "yes" if worst <= r.interval + 2.0 else "NO"
        out.append(f"shared {r.runs}: every end seen within interval + 2 s: {verdict} ({worst:.2f} s)")
        if r.runs == 1000:
            rate = r.per_minute(r.polls)
            out.append(f"shared 1000: under 500 requests a minute: {'yes' if rate < 500 else 'NO'} ({rate:.0f})")
        if r.runs >= 5000:
            lag, own = r.lag * 1000, r.lag_without_gc * 1000
            verdict = "yes" if r.lag < 0.1 else "NO"
            out.append(
                f"shared {r.runs}: loop lag under 100 ms: {verdict} ({lag:.0f} ms; {own:.0f} ms without "
                f"garbage-collector pauses, worst pause {r.gc_pause * 1000:.0f} ms)"
            )
    return out


def parse_counts(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


async def warm_up() -> None:
    """Import Airflow, httpx and the provider before measuring, so no scenario pays for imports."""
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook
    from airflow_provider_sixtyfour.triggers import sixtyfour  # noqa: F401

    async with SixtyfourAsyncHook() as hook:
        await hook.list_workflows()


async def main_async(args: argparse.Namespace, base: str) -> tuple[list[Result], float]:
    await warm_up()
    floor = full_collection_floor()
    if args.gc_freeze:
        # What a triggerer that froze its start-up heap would see: full collections skip those objects.
        gc.collect()
        gc.freeze()
    results = []
    for runs in args.runs:
        print(f"... shared poller, {runs} runs", flush=True)
        results.append(await scenario(base, "shared", runs, args.interval, args.spread))
    for runs in args.baseline:
        # The baseline's cost is steady (one request per run per interval): a short spread measures it.
        print(f"... baseline (one poller per run), {runs} runs", flush=True)
        results.append(await scenario(base, "baseline", runs, args.interval, args.baseline_spread))
    return results, floor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=parse_counts, default=[1000], help="comma-separated N (default 1000)")
    parser.add_argument("--baseline", type=parse_counts, default=[1000], help="N for the baseline ('' for none)")
    parser.add_argument("--interval", type=float, default=5.0, help="poll interval in seconds (default 5)")
    parser.add_argument("--spread", type=float, default=150.0, help="seconds over which runs end (default 150)")
    parser.add_argument("--baseline-spread", type=float, default=16.0, help="the same for the baseline (default 16)")
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() Airflow's start-up heap first (Airflow does not)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    proc, base = start_emulator()
    os.environ["AIRFLOW_CONN_SIXTYFOUR_DEFAULT"] = json.dumps(
        {"conn_type": "sixtyfour", "host": base, "password": API_KEY, "extra": {"timeout": 30}}
    )
    # Quiet: one progress line per run change would drown the table (set before Airflow is imported).
    os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
    logging.basicConfig(level=logging.WARNING)
    try:
        results, floor = asyncio.run(main_async(args, base))
    finally:
        proc.terminate()
        proc.wait(10)
    print()
    spreads = f"runs end evenly over {args.spread:g} s (baseline {args.baseline_spread:g} s)"
    print(f"poll interval {args.interval:g} s; {spreads}")
    print("req/min: status polls (list + live_status) per minute; poll/min: the same minus the one final read")
    print("each run needs; calls/run: polls per run over its life; lag: worst event-loop lag (no-GC: less the")
    print("garbage collector's pauses; GC: its worst pause); p50/worst: run end -> event arrival")
    print(table(results))
    for line in verdicts(results):
        print(line)
    print(f"a full collection of the heap before any trigger (Airflow's and httpx's modules): {floor * 1000:.0f} ms")
    if args.json:
        settings = {"interval": args.interval, "spread": args.spread, "baseline_spread": args.baseline_spread}
        document = {
            **settings,
            "gc_freeze": args.gc_freeze,
            "full_collection_floor_ms": floor * 1000,
            # Each record carries the floor too: it bounds that scenario's worst pause.
            "results": [{**figures(r), "full_collection_floor_ms": floor * 1000} for r in results],
        }
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
