"""Run the nightly enrichment pipeline end to end against a local Sixtyfour emulator.

What it does, in order (each step prints a line):

1. starts the emulator (``sixtyfour-emulator``) on 127.0.0.1 with the demo workflow of ``demo/emulator.json``;
2. seeds yesterday's input leads as a CSV under ``.demo/data/input/leads/``;
3. sets up a throwaway Airflow home (SQLite) with the ``sixtyfour_default`` and warehouse connections;
4. runs ``airflow dags test sixtyfour_nightly_enrichment`` (the deferrable path), showing the run's
   progress lines as they come;
5. prints where the results landed, their row counts, and what the warehouse table now holds;
6. stops everything it started, and checks that no log line carried the API key or a signed URL.

Run it through ``bash scripts/demo.sh``, which prepares the virtualenv first.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "sixtyfour_nightly_enrichment"
WORKFLOW_ID = "wf-nightly-leads"
TABLE = "enriched_leads"

# Lines of the Airflow output worth showing live: the provider's and the DAG's own log lines (progress,
# landing, loading), each task's start and end, the run's outcome and any error.
SHOW = re.compile(
    r"(airflow_provider_sixtyfour|sixtyfour_nightly_enrichment\]|\[DAG TEST\] (start|end) task|"
    r"DagRun Finished|Traceback|Error|\[error)",
)
HIDE = re.compile(r"(Pushing xcom|Task instance state updated|Done loading)")
# Airflow 3's console format: "2026-11-23T17:24:03.477731Z [info     ] message [logger] key=value ..."
STRUCTURED = re.compile(r"^\d{4}-\d\d-\d\dT(\d\d:\d\d:\d\d)\S* \[(\w+)\s*\] (.*?)\s+\[[\w.]+\]")


def pretty(line: str) -> str:
    """A log line without its logger and key=value noise: ``17:24:03  message``."""
    match = STRUCTURED.match(line)
    if not match:
        return line.rstrip()[:220]
    when, level, message = match.groups()
    return f"{when}  {'' if level == 'info' else level.upper() + ': '}{message}"[:220]


SIGNED_QUERY = re.compile(r"[?&](signature|X-Amz-Signature|expires)=", re.IGNORECASE)

FIRST = ["Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances"]
LAST = ["Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen"]
COMPANIES = ["Acme, Inc.", "Globex", "Initech", "Umbrella Corp", 'The "Widget" Co', "Hooli", "Stark Industries"]
TITLES = ["VP Sales", "Head of Data", "CTO", "Growth Lead", "RevOps Manager"]


def step(message: str) -> None:
    print(f"\n==> {message}", flush=True)


def seed_leads(path: Path, count: int, seed: int) -> int:
    """Write ``count`` synthetic leads (some with commas and quotes in cells) as a CSV."""
    rng = random.Random(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["name", "company", "title", "linkedin_url"])
        for index in range(count):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            writer.writerow(
                [
                    f"{first} {last}",
                    rng.choice(COMPANIES),
                    rng.choice(TITLES),
                    f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{index}",
                ]
            )
    return count


@contextmanager
def emulator(python: str, api_key: str, log_path: Path) -> Iterator[str]:
    """Start the emulator as a child process on a free 127.0.0.1 port; yield its base URL; stop it."""
    env = {**os.environ, "SIXTYFOUR_EMULATOR_API_KEY": api_key}
    cmd = [
        python,
        "-m",
        "airflow_provider_sixtyfour.emulator",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--config",
        str(ROOT / "demo" / "emulator.json"),
    ]
    log_file = log_path.open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=log_file, text=True, start_new_session=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        if not match:
            raise RuntimeError(f"the emulator did not start: {line!r}; see {log_path}")
        yield match.group(1)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log_file.close()


def airflow_env(state: Path, base_url: str, api_key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    data = state / "data"
    env.update(
        {
            "AIRFLOW_HOME": str(state / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{state / 'airflow' / 'airflow.db'}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONWARNINGS": "ignore",
            "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": json.dumps(
                {"conn_type": "sixtyfour", "host": base_url, "password": api_key}
            ),
            "AIRFLOW_CONN_SIXTYFOUR_WAREHOUSE": json.dumps(
                {"conn_type": "sqlite", "host": str(state / "warehouse.db")}
            ),
            "AIRFLOW_VAR_SIXTYFOUR_WORKFLOW_ID": WORKFLOW_ID,
            "AIRFLOW_VAR_SIXTYFOUR_INPUT_BASE": (data / "input").as_uri(),
            "AIRFLOW_VAR_SIXTYFOUR_RESULTS_BASE": (data / "results").as_uri(),
        }
    )
    return env


def run_logged(cmd: list[str], env: dict[str, str], log_path: Path, *, show: bool) -> int:
    """Run a command, keep its whole output in ``log_path``, and echo the interesting lines."""
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log_file.write(line)
            if show and SHOW.search(line) and not HIDE.search(line):
                print("   " + pretty(line), flush=True)
        return proc.wait()


def report(state: Path, ds: str) -> int:
    """Print the landed files with their row counts and the warehouse table; return the table's rows."""
    results = state / "data" / "results" / ds
    step(f"Results landed in {results.as_uri()}/")
    for path in sorted(results.glob("*")):
        with path.open(newline="") as handle:
            rows = sum(1 for _ in csv.reader(handle)) - 1
        print(f"   {path.name:<40} {rows:>6} rows  {path.stat().st_size:>9} bytes")
    with sqlite3.connect(state / "warehouse.db") as db:
        (count,) = db.execute(f'SELECT COUNT(*) FROM "{TABLE}" WHERE ds = ?', (ds,)).fetchone()  # noqa: S608
        columns = [row[1] for row in db.execute(f'PRAGMA table_info("{TABLE}")')]
        sample = db.execute(f'SELECT * FROM "{TABLE}" WHERE ds = ? LIMIT 3', (ds,)).fetchall()  # noqa: S608
    step(f"Warehouse table {TABLE} in {state / 'warehouse.db'}: {count} rows for {ds}")
    print("   columns: " + ", ".join(columns))
    for row in sample:
        print("   " + " | ".join(str(value).replace("\n", "\\n")[:28] for value in row))
    return int(count)


def audit_secrets(state: Path, api_key: str) -> list[str]:
    """Files under the demo's state that contain the API key or a signed URL's query string."""
    leaks = []
    for path in state.rglob("*"):
        if path.is_file() and path.suffix not in {".db", ".csv"}:
            text = path.read_text(errors="replace")
            if api_key in text or SIGNED_QUERY.search(text):
                leaks.append(str(path))
    return leaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leads", type=int, default=300, help="how many input leads to seed (default 300)")
    parser.add_argument("--state-dir", default=str(ROOT / ".demo"), help="where the demo keeps its files")
    args = parser.parse_args()

    state = Path(args.state_dir).resolve()
    shutil.rmtree(state, ignore_errors=True)
    (state / "logs").mkdir(parents=True)
    python = sys.executable
    airflow = [python, "-m", "airflow"]
    api_key = "demo-" + secrets.token_hex(16)
    logical = date.today()
    ds, yesterday = logical.isoformat(), (logical - timedelta(days=1)).isoformat()
    started = time.monotonic()

    step("Starting the Sixtyfour emulator on 127.0.0.1")
    with emulator(python, api_key, state / "logs" / "emulator.log") as base_url:
        print(f"   emulator at {base_url} (workflow {WORKFLOW_ID})")
        input_csv = state / "data" / "input" / "leads" / f"{yesterday}.csv"
        count = seed_leads(input_csv, args.leads, seed=64)
        step(f"Seeded {count} leads for {yesterday} at {input_csv.as_uri()}")

        env = airflow_env(state, base_url, api_key)
        step("Setting up Airflow (SQLite) in .demo/airflow")
        code = run_logged([*airflow, "db", "migrate"], env, state / "logs" / "db-migrate.log", show=False)
        if code != 0:
            print(f"airflow db migrate failed; see {state / 'logs' / 'db-migrate.log'}", file=sys.stderr)
            return code

        step(f"Running {DAG_ID} for {ds} (deferrable: the wait happens in a trigger)")
        dag_log = state / "logs" / "dags-test.log"
        code = run_logged([*airflow, "dags", "test", DAG_ID, ds], env, dag_log, show=True)
        if code != 0:
            print(f"\nThe DAG run failed (exit {code}); its full output is in {dag_log}", file=sys.stderr)
            return code
    rows = report(state, ds)
    leaks = audit_secrets(state, api_key)
    if leaks:
        print(f"\nSECRET LEAK: the API key or a signed URL appears in {leaks}", file=sys.stderr)
        return 3
    step(f"Done in {time.monotonic() - started:.0f} s: {rows} enriched leads loaded; the emulator is stopped.")
    print(f"   Logs: {state / 'logs'}   No log line holds the API key or a signed URL.")
    return 0 if rows == count else 4


if __name__ == "__main__":
    sys.exit(main())
