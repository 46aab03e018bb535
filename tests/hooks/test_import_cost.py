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


PARSE_PROBE = """
import json, sys
from airflow.providers.common.compat.sdk import BaseOperator  # a DAG file's own imports (2.11 has no airflow.sdk)
before = set(sys.modules)
import airflow_provider_sixtyfour.operators.sixtyfour
import airflow_provider_sixtyfour.sensors.sixtyfour
import airflow_provider_sixtyfour.triggers.sixtyfour
print(json.dumps(sorted(set(sys.modules) - before)))
"""

#: Modules a task or the triggerer needs, never a DAG file being parsed: the hooks' HTTP machinery, the
#: shared poller, landing and streaming (stop 20: the poller and every transfers module came in at parse).
RUNTIME_ONLY = (
    "airflow_provider_sixtyfour.hooks.sixtyfour",
    "airflow_provider_sixtyfour.hooks.retrying",
    "airflow_provider_sixtyfour.triggers.poller",
    "airflow_provider_sixtyfour.triggers.run_poller",
    "airflow_provider_sixtyfour.triggers.plan",
    "airflow_provider_sixtyfour.transfers.landing",
    "airflow_provider_sixtyfour.transfers.streaming",
    "airflow_provider_sixtyfour.transfers.destination",
    "httpx",
    "requests",
)


def test_parsing_a_dag_file_imports_no_runtime_machinery() -> None:
    proc = subprocess.run([sys.executable, "-c", PARSE_PROBE], capture_output=True, text=True, timeout=120, check=True)
    new = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [m for m in new if m in RUNTIME_ONLY] == []
