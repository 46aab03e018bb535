"""Importing the hook module (done at DAG parse by operator modules) must not pull in HTTP clients."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys, time
from airflow.providers.common.compat.sdk import BaseHook
before = set(sys.modules)
began = time.perf_counter()
import airflow_provider_sixtyfour.hooks.sixtyfour
elapsed = time.perf_counter() - began
new = set(sys.modules) - before
heavy = {"httpx", "httpcore", "requests", "urllib3", "aiohttp", "anyio"}
print(json.dumps({"ms": elapsed * 1000, "heavy": sorted(m for m in new if m.split(".")[0] in heavy)}))
"""


def test_hook_import_is_cheap() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"\nimporting the hook module took {result['ms']:.1f} ms after Airflow")
    assert result["heavy"] == []
