"""Run the installed wheel as a user would: run it with the python of a venv that has the wheel (not editable).

Usage: ``.venv-wheel-3.3/bin/python scripts/wheel_smoke.py``. In a throwaway ``AIRFLOW_HOME`` (a temp
folder, SQLite) it checks that the provider is imported from site-packages, that ``airflow providers list``
names it, that every example DAG parses, and that ``sixtyfour_read_csv_workflow`` runs end to end through
``airflow dags test`` against the emulator on a free 127.0.0.1 port: the CSV is uploaded, one run is
started and its three result files land. The API key must appear in no output and no task log.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIST = "airflow-provider-sixtyfour"
DAG_ID = "sixtyfour_read_csv_workflow"
DS, YESTERDAY = "2026-03-02", "2026-03-01"
LANDED = ["block_01_read_csv.csv", "block_02_enrich_company.csv", "block_03_find_email.csv"]


class SmokeError(AssertionError):
    """What the wheel got wrong, said in one line."""


def airflow(home: Path, env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run ``airflow ARGS`` from this venv; its output (stdout and stderr), or SmokeError if it failed."""
    proc = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=env,
        cwd=home,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise SmokeError(f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-4000:]}")
    return proc.stdout


def json_output(text: str) -> Any:
    """The JSON document an ``airflow ... -o json`` command printed (log lines may come before it)."""
    lines = [line for line in text.splitlines() if line.startswith("[")]
    if not lines:
        raise SmokeError(f"no JSON in the output:\n{text[-2000:]}")
    return json.loads(lines[-1])


def check_installed_from_the_wheel() -> None:
    from importlib.metadata import distribution

    import airflow_provider_sixtyfour

    location = Path(airflow_provider_sixtyfour.__file__).resolve().parent
    if location == ROOT / "airflow_provider_sixtyfour" or "site-packages" not in location.parts:
        raise SmokeError(f"the provider is imported from {location}, not from the installed wheel")
    origin = json.loads(distribution(DIST).read_text("direct_url.json") or "{}")
    if "archive_info" not in origin or not origin.get("url", "").endswith(".whl"):
        raise SmokeError(f"{DIST} is not installed from a wheel file (direct_url.json: {origin})")
    print(f"wheel smoke: provider imported from {location}, installed from {origin['url'].rsplit('/', 1)[-1]}")


def base_env(home: Path, dags: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def write_companies(path: Path, rows: int) -> list[str]:
    path.parent.mkdir(parents=True)
    names = [f"Company {i}" for i in range(rows)]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["company", "domain"])
        writer.writerows([name, f"company{i}.example"] for i, name in enumerate(names))
    return names


def run_example(home: Path, env: dict[str, str], work: Path, api_key: str) -> None:
    from airflow_provider_sixtyfour.emulator import EmulatorServer

    names = write_companies(work / "input" / "companies" / f"{YESTERDAY}.csv", rows=12)
    with EmulatorServer(api_keys=[api_key], host="127.0.0.1", port=0) as emulator:
        conn = {"conn_type": "sixtyfour", "host": emulator.base_url, "password": api_key}
        run_env = dict(env)
        run_env.update(
            {
                "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": json.dumps(conn),
                "AIRFLOW_VAR_SIXTYFOUR_INPUT_BASE": (work / "input").as_uri(),
                "AIRFLOW_VAR_SIXTYFOUR_RESULTS_BASE": (work / "results").as_uri(),
            }
        )
        output = airflow(home, run_env, "dags", "test", DAG_ID, DS)
        started = emulator.runs_started()
        per_route = {route: sum(keys.values()) for route, keys in emulator.stats()["requests"].items()}
    folder = work / "results" / "companies" / DS
    landed = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    if landed != LANDED:
        raise SmokeError(f"{DAG_ID} landed {landed} in {folder}, expected {LANDED}")
    with (folder / LANDED[-1]).open(newline="") as handle:
        final = [row["company"] for row in csv.DictReader(handle)]
    if final != names:
        raise SmokeError(f"{LANDED[-1]} has companies {final[:3]}..., expected the {len(names)} uploaded")
    if started != 1:
        raise SmokeError(f"the emulator saw {started} runs started, expected exactly 1")
    logs = "\n".join(p.read_text(errors="replace") for p in (home / "logs").rglob("*") if p.is_file())
    if api_key in output or api_key in logs:
        raise SmokeError("the API key appears in the output or the task logs of airflow dags test")
    print(f"wheel smoke: airflow dags test {DAG_ID} uploaded {len(names)} rows, 1 run, landed {len(LANDED)} files")
    calls = ", ".join(f"{route} {count}" for route, count in sorted(per_route.items()))
    print(f"wheel smoke: API requests of that run: {sum(per_route.values())} ({calls})")


def main() -> int:
    """Run every check; print what failed and return 1, else 0."""
    api_key = f"sk-wheel-smoke-{secrets.token_hex(12)}"
    work = Path(tempfile.mkdtemp(prefix="sixtyfour-wheel-smoke-"))
    try:
        check_installed_from_the_wheel()
        home, dags = work / "airflow-home", work / "dags"
        home.mkdir()
        dags.mkdir()
        for example in sorted((ROOT / "example_dags").glob("*.py")):
            shutil.copy(example, dags)
        env = base_env(home, dags)
        airflow(home, env, "db", "migrate")

        providers = {p["package_name"]: p for p in json_output(airflow(home, env, "providers", "list", "-o", "json"))}
        if DIST not in providers:
            raise SmokeError(f"airflow providers list does not name {DIST}: {sorted(providers)}")
        print(f"wheel smoke: airflow providers list names {DIST} {providers[DIST]['version']}")

        # As a deployment's DAG processor does: parse the DAGs folder into the database the CLI reads.
        airflow(home, env, "dags", "reserialize")
        if errors := json_output(airflow(home, env, "dags", "list-import-errors", "-o", "json")):
            raise SmokeError(f"the example DAGs do not parse: {errors}")
        listed = sorted(d["dag_id"] for d in json_output(airflow(home, env, "dags", "list", "-o", "json")))
        expected = sorted(p.stem for p in dags.glob("*.py"))
        if listed != expected:
            raise SmokeError(f"airflow dags list shows {listed}, expected the example DAGs {expected}")
        print(f"wheel smoke: the {len(listed)} example DAGs parse")

        run_example(home, env, work, api_key)
    except SmokeError as err:
        print(f"wheel smoke FAILED: {err}".replace(api_key, "<api key>"), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
