"""What the answer cap and off-loop parsing cost the shared poller (issue 11), measured in this process.

1. **The answer cap** (``hooks/outcomes.py`` ``BodyCollector``, up to ``MAX_ANSWER_BYTES``): the shared
   poller's answer, ``GET /workflows/runs?status=active&limit=500`` with 500 runs listed (records shaped as
   the emulator's, about 0.3 MiB), is fed in 64 KiB chunks (httpcore's read size) through a
   ``BodyCollector`` exactly as both transports read a body (``wants_more``, ``add`` per chunk, then
   ``answer``), against a plain ``b"".join(chunks)`` (what reading a whole body costs without the cap).
   Their difference is the cap's cost per answer, also given as a share of the time to parse that answer
   the way the poller does: ``read_answer`` with ``endpoints.list_runs("active", limit=500)``'s parser,
   both fresh (the first list) and with every record reused (``reuse=``: the poller's steady state). Each
   figure is the median of ``--repeat`` repetitions of a timed loop, with the garbage collector off as in
   ``timeit``. (The list's other bound, endpoints refusing more records than ``limit``, is one
   ``len()`` comparison before parsing: it is inside the parse figures.)

2. **Off-loop parsing** (``hooks/retrying.py`` ``adrive`` and ``OFF_LOOP_PARSE_BYTES``): one answer at a
   time goes through the production path, the real ``adrive`` driving the real ``call_steps`` generator of
   ``endpoints.list_runs("active", limit=500)``, with a ``send`` that hands the body over in 64 KiB chunks
   through a ``BodyCollector`` (yielding to the loop between chunks, as network reads do) instead of HTTP.
   A task sleeping 5 ms in a loop records its worst oversleep meanwhile: the longest the event loop (every
   other trigger of a triggerer) was held up. Each answer is parsed both ways, by setting
   ``retrying.OFF_LOOP_PARSE_BYTES`` above or below its size for that call only: "on the loop" (in the
   coroutine) and "off the loop" (``asyncio.to_thread``); the table marks the way ``adrive`` takes by
   default (off the loop above 4 MiB). Answers: the 500-run list of part 1, and lists of ``--sizes`` MiB.
   The endpoint refuses more than ``limit`` (500) records, so the big answers are 500 runs whose
   ``metrics`` carry a long per-block breakdown (many small JSON values, which cost far more per byte to
   parse than long strings: near the worst stall a body of that size can cause); a size at or over the cap becomes the
   largest answer it lets through. Records are parsed fresh (no ``reuse``), as the first list of a
   poller is. The garbage collector stays on: a collection started from the parsing thread holds the
   GIL and so stops the loop too, and its worst pause is reported.
   A stall longer than the tick shows as an oversleep up to one tick (5 ms) shorter than it was; the
   idle loop's own worst oversleep (timer wake-up and whatever else the machine runs) is printed as the
   floor of every stall figure.

Prints figures only; ``--json PATH`` also writes them as JSON (what ``bench/run_all.py`` reads).

    python bench/answers.py                                  # about 30 s on a 2-core machine
    python bench/answers.py --repeat 3 --stall-runs 1 --sizes 5   # a few seconds
    python bench/answers.py [--repeat 25] [--stall-runs 3] [--sizes 8,32] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import GcClock, format_table, median

from airflow_provider_sixtyfour.hooks import retrying
from airflow_provider_sixtyfour.hooks.outcomes import Answer, BodyCollector, Outcome
from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.answers import MAX_ANSWER_BYTES, read_answer
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy
from airflow_provider_sixtyfour.protocol.validate import LIST_LIMIT_MAX

MiB = 1 << 20
CHUNK = 64 * 1024  # httpcore reads a body 64 KiB at a time
RUNS = LIST_LIMIT_MAX  # the poller lists with limit=500
TICK = 0.005
TIMED_SECONDS = 0.02  # each timed repetition loops for about this long
HEADERS_BASE = {"content-type": "application/json"}
ON, OFF = "on the loop", "off the loop"


# --------------------------------------------------------------------------------------------------
# Answers shaped as the API's
# --------------------------------------------------------------------------------------------------


def run_record(i: int, blocks: int = 0) -> dict[str, Any]:
    """One run as ``GET /workflows/runs?status=active`` lists it (the emulator's fields and shapes).

    :param blocks: entries of a per-block breakdown in ``metrics`` (0: the emulator's four counters only).
    """
    metrics: dict[str, Any] = {"rows_in": 250, "rows_out": 0, "blocks_completed": 1, "credits_used": 12.5}
    if blocks:
        metrics["per_block"] = [
            {"block": k, "name": "enrich_lead", "rows_out": 200 + k % 50, "credits": 1.25} for k in range(blocks)
        ]
    return {
        "job_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench-answers/{i}")),
        "workflow_id": f"wf-enrich-leads-{i % 8}",
        "workflow_name": "Enrich leads",
        "status": "running" if i % 5 else "queued",
        "step": "deployed",
        "user_id": "user-emulator",
        "created_at": "2026-12-03T10:15:02.123456Z",
        "updated_at": "2026-12-03T10:15:04.500000Z",
        "queued_at": "2026-12-03T10:15:02.123456Z",
        "started_at": "2026-12-03T10:15:04.500000Z" if i % 5 else None,
        "completed_at": None,
        "duration_ms": None,
        "status_reason": None,
        "error_message": None,
        "metrics": metrics,
        "blocks": None,
        "blocks_count": 3,
    }


def list_body(blocks: int = 0) -> bytes:
    """A 500-run list answer, as compact JSON as the emulator writes it."""
    return json.dumps([run_record(i, blocks) for i in range(RUNS)], separators=(",", ":")).encode()


def body_of_about(target: int) -> bytes:
    """A 500-run list answer of about ``target`` bytes (at most the largest the answer cap lets through)."""
    target = min(target, MAX_ANSWER_BYTES)
    small, sample = len(list_body()), len(list_body(100))
    blocks = max(1, int((target - small) * 100 / (sample - small)))
    body = list_body(blocks)
    while len(body) > MAX_ANSWER_BYTES:
        blocks = int(blocks * 0.995)
        body = list_body(blocks)
    return body


def chunked(body: bytes) -> list[bytes]:
    return [body[i : i + CHUNK] for i in range(0, len(body), CHUNK)]


def headers_for(body: bytes) -> dict[str, str]:
    return {**HEADERS_BASE, "content-length": str(len(body))}


def list_call(reuse: dict[str, Any] | None = None) -> Any:
    """The shared poller's call: ``list_runs(status="active", limit=500, reuse=...)``."""
    return endpoints.list_runs("active", None, RUNS, reuse=reuse)


# --------------------------------------------------------------------------------------------------
# 1. The answer cap's cost per answer
# --------------------------------------------------------------------------------------------------


def per_call_us(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    """Median and fastest µs per call of ``fn`` over ``repeat`` timed loops of about 20 ms (GC off)."""
    began = time.perf_counter()
    fn()
    once = max(time.perf_counter() - began, 1e-7)
    number = max(1, int(TIMED_SECONDS / once))
    samples = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeat):
            began = time.perf_counter()
            for _ in range(number):
                fn()
            samples.append((time.perf_counter() - began) / number * 1e6)
    finally:
        if enabled:
            gc.enable()
    return {"median": median(samples), "min": min(samples), "loops": number}


def cap_cost(repeat: int) -> dict[str, Any]:
    body = list_body()
    chunks = chunked(body)
    headers = headers_for(body)

    def collected() -> Answer:
        collector = BodyCollector(headers)
        if collector.wants_more:
            for chunk in chunks:
                if not collector.add(chunk):
                    break
        return collector.answer(200, headers, "OK")

    def joined() -> bytes:
        return b"".join(chunks)

    # What is timed must be what the poller gets: the whole body, 500 records, every one reused in steady state.
    fresh = read_answer(list_call(), 200, body, headers)
    known = {record.job_id: record for record in fresh}
    reused = read_answer(list_call(known), 200, body, headers)
    if collected().body != body or joined() != body or len(fresh) != RUNS:
        raise RuntimeError("the timed answer is not the 500-run list answer")
    if any(a is not b for a, b in zip(fresh, reused, strict=True)):
        raise RuntimeError("the steady-state parse did not reuse every record")

    timed = {
        "collector": per_call_us(collected, repeat),
        "join": per_call_us(joined, repeat),
        "parse_fresh": per_call_us(lambda: read_answer(list_call(), 200, body, headers), repeat),
        "parse_reused": per_call_us(lambda: read_answer(list_call(known), 200, body, headers), repeat),
    }
    extra = timed["collector"]["median"] - timed["join"]["median"]
    return {
        "runs": RUNS,
        "body_bytes": len(body),
        "chunks": len(chunks),
        "chunk_kib": CHUNK // 1024,
        "repeat": repeat,
        "collector_us": timed["collector"]["median"],
        "join_us": timed["join"]["median"],
        "extra_us": extra,
        "parse_fresh_us": timed["parse_fresh"]["median"],
        "parse_reused_us": timed["parse_reused"]["median"],
        "extra_pct_of_parse_fresh": 100 * extra / timed["parse_fresh"]["median"],
        "extra_pct_of_parse_reused": 100 * extra / timed["parse_reused"]["median"],
        "timings": timed,
    }


def cap_report(cap: dict[str, Any]) -> str:
    t = cap["timings"]
    rows = [
        ["BodyCollector (wants_more, add per chunk, answer)", t["collector"]["median"], t["collector"]["min"]],
        ['plain b"".join(chunks)', t["join"]["median"], t["join"]["min"]],
        ["cost of the cap (the difference)", cap["extra_us"], ""],
        ["parse as the poller does (read_answer, fresh records)", t["parse_fresh"]["median"], t["parse_fresh"]["min"]],
        [
            "parse, every record reused (the poller's steady state)",
            t["parse_reused"]["median"],
            t["parse_reused"]["min"],
        ],
    ]
    return "\n".join(
        [
            f"1. The answer cap on a {RUNS}-run list answer ({cap['body_bytes'] / MiB:.2f} MiB, {cap['chunks']} chunks "
            f"of {cap['chunk_kib']} KiB), µs per answer, median of {cap['repeat']} timed loops (GC off)",
            format_table(["per answer", "µs (median)", "fastest"], rows),
            f"the cap costs {cap['extra_us']:.2f} µs per answer: {cap['extra_pct_of_parse_fresh']:.3f}% of a fresh "
            f"parse, {cap['extra_pct_of_parse_reused']:.3f}% of a steady-state parse",
        ]
    )


# --------------------------------------------------------------------------------------------------
# 2. Off-loop parsing: the loop's worst stall while one answer is parsed
# --------------------------------------------------------------------------------------------------


async def ticker(stop: asyncio.Event, worst: list[float]) -> None:
    """Sleep ``TICK`` again and again; ``worst[0]`` is the longest any sleep overslept."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(TICK)
        worst[0] = max(worst[0], loop.time() - before - TICK)


async def through_adrive(body: bytes, route: str) -> dict[str, Any]:
    """One answer through ``adrive`` + ``call_steps``, parsed ``route``; wall, worst loop stall, GC."""
    chunks, headers = chunked(body), headers_for(body)
    log = logging.getLogger("bench.answers")
    policy = RetryPolicy()
    steps = retrying.call_steps(list_call(), policy, RateLimitGate(max_wait=policy.max_wait), log)

    async def send(_attempt: int) -> Outcome:
        collector = BodyCollector(headers)
        if collector.wants_more:
            for chunk in chunks:
                if not collector.add(chunk):
                    break
                await asyncio.sleep(0)  # a network read in between
        return collector.answer(200, headers, "OK")

    gc.collect()
    stop, worst = asyncio.Event(), [0.0]
    tick = asyncio.create_task(ticker(stop, worst))
    await asyncio.sleep(6 * TICK)
    worst[0] = 0.0
    clock = GcClock()
    gc.callbacks.append(clock)
    threshold = retrying.OFF_LOOP_PARSE_BYTES
    retrying.OFF_LOOP_PARSE_BYTES = len(body) if route == ON else len(body) - 1
    try:
        began = time.perf_counter()
        records = await retrying.adrive(steps, send)
        wall = time.perf_counter() - began
    finally:
        retrying.OFF_LOOP_PARSE_BYTES = threshold
        await asyncio.sleep(3 * TICK)  # the ticker wakes from the sleep the parse held up
        gc.callbacks.remove(clock)
        stop.set()
        await tick
    if len(records) != RUNS:
        raise RuntimeError(f"adrive parsed {len(records)} records, not {RUNS}")
    del records
    return {
        "wall_ms": wall * 1e3,
        "stall_ms": worst[0] * 1e3,
        "gc_pause_ms": clock.worst * 1e3,
        "full": clock.full_collections,
    }


async def idle_stall(seconds: float = 0.3) -> float:
    """The ticker's worst oversleep with nothing else to do (ms): the floor of every stall figure."""
    stop, worst = asyncio.Event(), [0.0]
    tick = asyncio.create_task(ticker(stop, worst))
    await asyncio.sleep(seconds)
    stop.set()
    await tick
    return worst[0] * 1e3


async def stalls(sizes: list[float], runs_small: int, runs_big: int) -> tuple[list[dict[str, Any]], float]:
    await asyncio.to_thread(lambda: None)  # the default executor's thread exists before any timing
    bodies = [("500-run list", list_body())]
    for mib in sizes:
        bodies.append((f"~{mib:g} MiB list", body_of_about(int(mib * MiB))))
    idle = await idle_stall()
    rows = []
    for label, body in bodies:
        adrive_takes = OFF if len(body) > retrying.OFF_LOOP_PARSE_BYTES else ON
        runs = runs_small if len(body) <= retrying.OFF_LOOP_PARSE_BYTES else runs_big
        print(f"... {label} ({len(body) / MiB:.2f} MiB): {runs} x each way", file=sys.stderr, flush=True)
        samples: dict[str, list[dict[str, Any]]] = {ON: [], OFF: []}
        for _ in range(runs):
            for route in (ON, OFF):  # alternating, so both see the same machine load
                samples[route].append(await through_adrive(body, route))
        for route in (ON, OFF):
            got = samples[route]
            rows.append(
                {
                    "answer": label,
                    "bytes": len(body),
                    "mib": len(body) / MiB,
                    "runs": RUNS,
                    "route": route,
                    "adrive_default": route == adrive_takes,
                    "samples": len(got),
                    "wall_ms": median(s["wall_ms"] for s in got),
                    "stall_ms": median(s["stall_ms"] for s in got),
                    "worst_stall_ms": max(s["stall_ms"] for s in got),
                    "gc_pause_ms": max(s["gc_pause_ms"] for s in got),
                    "full_collections": max(s["full"] for s in got),
                }
            )
        del body
    return rows, idle


def stall_report(rows: list[dict[str, Any]], idle: float) -> str:
    table = format_table(
        ["answer", "MiB", "parsed", "adrive", "wall ms", "loop stall ms", "worst", "GC pause ms", "full GCs"],
        [
            [
                r["answer"],
                f"{r['mib']:.2f}",
                r["route"],
                "default" if r["adrive_default"] else "",
                r["wall_ms"],
                r["stall_ms"],
                r["worst_stall_ms"],
                r["gc_pause_ms"],
                r["full_collections"],
            ]
            for r in rows
        ],
        right=(1, 4, 5, 6, 7, 8),
    )
    lines = [
        f"2. Off-loop parsing: one answer through adrive + call_steps (list_runs active, limit={RUNS}), received in "
        f"{CHUNK // 1024} KiB chunks and parsed {ON} or {OFF} (asyncio.to_thread); adrive's default is off the loop "
        f"above {retrying.OFF_LOOP_PARSE_BYTES / MiB:g} MiB",
        f"loop stall: worst oversleep of a task sleeping {TICK * 1e3:g} ms (median over runs; worst: of all runs); "
        f"wall: the whole call (median); idle loop: {idle:.2f} ms; GIL switch interval "
        f"{sys.getswitchinterval() * 1e3:g} ms",
        table,
    ]
    by_answer: dict[str, dict[str, dict[str, Any]]] = {}
    for r in rows:
        by_answer.setdefault(r["answer"], {})[r["route"]] = r
    for label, both in by_answer.items():
        on, off = both[ON], both[OFF]
        lines.append(
            f"{label} ({on['mib']:.2f} MiB): loop stall {on['stall_ms']:.1f} ms {ON} vs {off['stall_ms']:.1f} ms "
            f"{OFF}; wall {on['wall_ms']:.0f} vs {off['wall_ms']:.0f} ms"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=25, help="timed loops per figure of part 1 (default 25)")
    parser.add_argument(
        "--stall-runs", type=int, default=3, help="parses each way per answer over the threshold (default 3)"
    )
    parser.add_argument(
        "--small-runs", type=int, default=None, help="parses each way of the 500-run list (default: 3x --stall-runs)"
    )
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[8.0, 32.0], help="MiB of the big list answers (default 8,32)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    small_runs = args.small_runs if args.small_runs is not None else 3 * args.stall_runs

    began = time.perf_counter()
    print(f"Python {sys.version.split()[0]}; answer cap {MAX_ANSWER_BYTES / MiB:g} MiB", flush=True)
    cap = cap_cost(args.repeat)
    print()
    print(cap_report(cap), flush=True)
    rows, idle = asyncio.run(stalls(args.sizes, small_runs, args.stall_runs))
    print()
    print(stall_report(rows, idle))
    print(f"\n{time.perf_counter() - began:.0f} s")
    if args.json:
        document = {
            "cap": cap,
            "stalls": rows,
            "idle_stall_ms": idle,
            "tick_ms": TICK * 1e3,
            "off_loop_parse_bytes": retrying.OFF_LOOP_PARSE_BYTES,
            "max_answer_bytes": MAX_ANSWER_BYTES,
            "switch_interval_ms": sys.getswitchinterval() * 1e3,
            "python": sys.version.split()[0],
        }
        args.json.write_text(json.dumps(document, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
