"""Helpers shared by the benchmark scripts: the emulator as a subprocess, process CPU and memory, tables.

Benchmarks run as plain scripts (``python bench/NAME.py``), so import this as ``common`` after putting
``bench/`` on ``sys.path``. Everything here is standard library: it works in any venv that has the
provider installed, and reads Linux ``/proc`` where it needs per-process figures (0 elsewhere).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import queue
import re
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
API_KEY = "bench-key"
"""The key the benchmark emulator accepts (a throwaway: it never leaves 127.0.0.1)."""

_LISTENING = re.compile(r"listening on (http://\S+)")


# --------------------------------------------------------------------------------------------------
# The emulator in its own process
# --------------------------------------------------------------------------------------------------


class EmulatorProcess:
    """``sixtyfour-emulator`` in a subprocess on a free 127.0.0.1 port, rate limit off by default.

    A separate process, so that its CPU is not the measured client's. Use as a context manager.

    :param api_key: the key it accepts.
    :param rate_limit: requests per minute per key; 0 disables the limit (the default for benchmarks).
    :param start_timeout: seconds to wait for its "listening on" line.
    :param config: an emulator config (workflows, keys, ...), written to ``config_dir`` and passed
        with ``--config``; ``api_key`` and ``rate_limit`` still win over it.
    :param config_dir: where to write ``config`` (a temporary folder of the caller's).
    """

    def __init__(
        self,
        api_key: str = API_KEY,
        rate_limit: int = 0,
        start_timeout: float = 60.0,
        config: dict[str, Any] | None = None,
        config_dir: Path | None = None,
    ) -> None:
        self.api_key = api_key
        self.rate_limit = rate_limit
        self.start_timeout = start_timeout
        self.config = config
        self.config_dir = config_dir
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        if self.proc is None:
            raise RuntimeError("the emulator is not started")
        return self.proc.pid

    def start(self) -> EmulatorProcess:
        """Start it and wait until it accepts connections."""
        cmd = [sys.executable, "-m", "airflow_provider_sixtyfour.emulator", "--host", "127.0.0.1", "--port", "0"]
        cmd += ["--rate-limit", str(self.rate_limit), "--api-key", self.api_key]
        if self.config is not None:
            if self.config_dir is None:
                raise ValueError("config_dir is needed to pass a config")
            path = self.config_dir / "emulator.json"
            path.write_text(json.dumps(self.config))
            cmd += ["--config", str(path)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        stdout = self.proc.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            match = _LISTENING.search(line)
            if match:
                self.base_url = match.group(1)
                return self
        self.stop()
        raise RuntimeError("the emulator did not start (see its stderr above)")

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def admin(self, path: str, body: Any = None) -> Any:
        """Call an ``/_emulator/`` control route (GET, or POST when ``body`` is given)."""
        return emulator_admin(self.base_url, path, body)

    def stats(self) -> dict[str, Any]:
        """``GET /_emulator/stats``."""
        return emulator_stats(self.base_url)

    def cpu_seconds(self) -> float:
        """User+system CPU seconds the emulator process has used so far."""
        return cpu_seconds(self.pid)


def emulator_admin(base_url: str, path: str, body: Any = None) -> Any:
    """Call ``{base_url}/_emulator/{path}`` (no API key needed) and return its JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{base_url}/_emulator/{path}", data=data, method="POST" if data else "GET")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def emulator_stats(base_url: str) -> dict[str, Any]:
    """The emulator's counters (``GET /_emulator/stats``)."""
    stats: dict[str, Any] = emulator_admin(base_url, "stats")
    return stats


def requests_on(stats: dict[str, Any], route: str) -> int:
    """Requests counted on ``route`` (a route template such as ``/workflows/runs``), all keys together."""
    return sum(stats.get("requests", {}).get(route, {}).values())


# --------------------------------------------------------------------------------------------------
# Process CPU and memory (Linux /proc)
# --------------------------------------------------------------------------------------------------


def cpu_seconds(pid: int | None = None) -> float:
    """User+system CPU seconds of process ``pid`` (this process when None); 0 when unknown."""
    if pid is None or pid == os.getpid():
        return time.process_time()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _status_kib(pid: int | None, field: str) -> int:
    try:
        text = Path(f"/proc/{pid or 'self'}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def rss_bytes(pid: int | None = None) -> int:
    """Resident set size of ``pid`` (this process when None) right now, in bytes; 0 when unknown."""
    return _status_kib(pid, "VmRSS") * 1024


def peak_rss_bytes(pid: int | None = None) -> int:
    """The high-water mark of ``pid``'s resident set size (``VmHWM``), in bytes; 0 when unknown."""
    return _status_kib(pid, "VmHWM") * 1024


class RssSampler:
    """Samples a process's RSS in a background thread and keeps the peak (for processes that are not ours).

    :param pid: the process to watch (this one when None).
    :param interval: seconds between samples.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.start_rss = rss_bytes(pid)
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes(self.pid))

    @property
    def growth(self) -> int:
        """Peak RSS minus the RSS when sampling began, in bytes."""
        return max(0, self.peak - self.start_rss)


# --------------------------------------------------------------------------------------------------
# The machine and the numbers
# --------------------------------------------------------------------------------------------------


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution`` (without importing it), or None."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, str]:
    """Date, CPU count and model, memory, load, Python and Airflow versions of this machine."""
    info = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(os.cpu_count() or "?"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "airflow": installed_version("apache-airflow") or "not installed",
        "platform": platform.platform(terse=True),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text()
        total = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
        if total:
            info["memory"] = f"{int(total.group(1)) / 2**20:.1f} GiB"
        cpuinfo = Path("/proc/cpuinfo").read_text()
        model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if model:
            info["cpu"] = model.group(1).strip()
    except OSError:
        pass
    with contextlib.suppress(OSError):
        info["load average at start"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return info


def median(values: Iterable[float]) -> float:
    """The median, or NaN for no values."""
    items = list(values)
    return statistics.median(items) if items else float("nan")


def format_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    markdown: bool = False,
    right: Iterable[int] | None = None,
) -> str:
    """A plain-text (or GitHub markdown) table.

    :param headers: the column titles.
    :param rows: the cells; floats are printed with one decimal below 100, none above.
    :param markdown: a GitHub markdown table instead of aligned plain text.
    :param right: indices of the right-aligned columns (default: all but the first).
    """
    right_cols = set(range(1, len(headers))) if right is None else set(right)
    text_rows = [[_cell(value) for value in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(widths[i]) if i in right_cols else c.ljust(widths[i]) for i, c in enumerate(cells)]
        return ("| " + " | ".join(parts) + " |") if markdown else "  ".join(parts).rstrip()

    out = [line(headers)]
    if markdown:
        out.append(
            "|" + "|".join("-" * (w + 1) + (":" if i in right_cols else "-") for i, w in enumerate(widths)) + "|"
        )
    else:
        out.append("-" * len(out[0]))
    out.extend(line(row) for row in text_rows)
    return "\n".join(out)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


class GcClock:
    """Adds up the time the garbage collector stops the world, to tell its pauses from the loop's own lag."""

    def __init__(self) -> None:
        self.total = 0.0
        self.worst = 0.0
        self.full_collections = 0
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            pause = time.perf_counter() - self._started
            self.total += pause
            self.worst = max(self.worst, pause)
            self.full_collections += info["generation"] == 2
