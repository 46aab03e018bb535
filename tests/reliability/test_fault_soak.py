"""The fault soak: 200 runs through the operators with 20% faults on every route, and a slice through Airflow.

``test_fault_soak_200_runs`` drives the operators in-process as Airflow does (see ``soak.py``): sync
tasks on worker threads, deferred ones in one shared triggerer loop, task retries with the next try
number. It asserts, from what the emulator saw and what landed:

* every task succeeded within its retry budget (three task retries on top of the hook's own retries);
* the emulator started exactly 200 runs: no retry, replay or lost answer started a second one;
* every landed file is byte-identical to what the emulator served (SHA-256 of both), and nothing else
  (no partial or temporary file) exists anywhere under the landing folder;
* the rate limit: no client sent a request while it had been told to wait (a 429's ``Retry-After``,
  or ``X-RateLimit-Remaining: 0`` until ``X-RateLimit-Reset``), and every 429 the clients received is one
  the emulator counted (its rate limiter's refusals plus the injected 429 faults);
* faults fired on every route the operators use.

``test_fault_soak_slice_through_airflow`` runs 20 of those runs (mapped tasks, half deferred) through
the real ``airflow dags test`` with the same fault mix, and checks the same outcome.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from helpers.airflow_cli import AirflowCli, airflow_major
from helpers.connections import sixtyfour_connection_uri_json
from helpers.files import sha256_of

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from reliability.soak import (
    Sent,
    Soak,
    SoakConfig,
    fault_rules,
    figures,
    problems,
    rate_limit_violations,
)

pytestmark = pytest.mark.timeout(280)

SLICE_RUNS = 20
SLICE_DAG = Path(__file__).parent / "dags" / "sixtyfour_soak_slice.py"


def test_fault_soak_200_runs(emulator: EmulatorServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_SOAK", sixtyfour_connection_uri_json(emulator.base_url))
    config = SoakConfig(runs=200, fault_rate=0.2)

    result = Soak(config, emulator, "sixtyfour_soak", tmp_path).run()

    numbers = figures(result)
    print("\nfault soak figures: " + json.dumps(numbers, indent=1))
    assert problems(result, emulator) == []
    # The headline promises, spelled out (problems() checks each in detail).
    assert result.stats["runs_started"] == config.runs
    assert all(o.finished and not o.failed for o in result.outcomes)
    assert numbers["files_landed"] == 3 * sum(1 for o in result.outcomes if not o.plan.cancel)
    assert 0.15 < numbers["fault_share_of_requests"] < 0.25
    assert numbers["faults_by_kind"].keys() >= {
        "status 429",
        "status 500",
        "status 502",
        "status 503",
        "reset",
        "delay",
        "lose_response",
        "truncate",
        "expire",
    }


def test_the_rate_limit_check_catches_a_client_that_does_not_wait() -> None:
    """The check itself: sends inside a told wait are caught; requests already on their way are not."""

    def sent(call: int, start: float, gate_wait: float = 0.0, client: int = 1) -> Sent:
        return Sent(client, call, "/r", start, start + 0.1, 200, 0.0, False, gate_wait)

    told = Sent(client=1, call=10, route="/r", start=0.0, end=1.0, status=429, told_wait=1.0, limiter=True)
    in_flight = sent(11, start=0.99)  # sent before the answer came
    raced = sent(12, start=1.02)  # passed the gate a moment before the answer reached it
    polite = sent(10, start=2.01, gate_wait=0.0)  # the retry, after the told wait
    other_client = sent(13, start=1.1, client=2)
    assert rate_limit_violations([told, in_flight, raced, polite, other_client]) == []

    eager_retry = sent(10, start=1.02)
    knew_and_sent = sent(14, start=1.1, gate_wait=0.9)
    never_took_note = sent(15, start=1.6)
    found = rate_limit_violations([told, eager_retry, knew_and_sent, never_took_note])
    assert len(found) == 3
    assert "the retry" in found[0]
    assert all("another request" in problem for problem in found[1:])


@pytest.mark.slow
def test_fault_soak_slice_through_airflow(airflow_cli: AirflowCli, emulator: EmulatorServer, tmp_path: Path) -> None:
    emulator.add_workflow(WorkflowSpec(workflow_id="wf-soak-slice", first_block="webhook", duration_seconds=1.0))
    config = SoakConfig(runs=SLICE_RUNS, seed=7)
    emulator.set_rate_limit(config.rate_limit, config.rate_window)
    for rule in fault_rules(config):
        emulator.add_fault(rule)
    landing = tmp_path / "landing"
    airflow_cli.add_dag(SLICE_DAG.name, SLICE_DAG.read_text())

    env = {
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url),
        "SOAK_SLICE_RUNS": str(SLICE_RUNS),
        "SOAK_SLICE_DESTINATION": landing.as_uri() + "/",
    }
    if airflow_major() < 3:
        # Airflow 2's ``dags test`` does not write the DAG's dataset aliases to the database (a DAG
        # processor does); the download tasks' alias events need them.
        airflow_cli.run("dags", "reserialize", extra_env=env, check=True)
    proc = airflow_cli.dags_test("sixtyfour_soak_slice", extra_env=env, timeout=240)
    emulator.clear_faults()

    assert proc.returncode == 0, proc.stdout[-6000:]
    db = airflow_cli.home / "airflow.db"
    states = _states(db)
    assert set(states) == {"success"}, states
    assert sum(states.values()) == 2 + 4 * (SLICE_RUNS // 2)  # two batch tasks, then run and land per run
    # Exactly one run per mapped task instance, and its files landed byte for byte, nothing else.
    assert emulator.runs_started() == SLICE_RUNS
    job_ids = _mapped_xcoms(db, "job_id")
    assert len(job_ids) == SLICE_RUNS
    assert len(set(job_ids.values())) == SLICE_RUNS
    expected = set()
    for (task_id, map_index), job_id in job_ids.items():
        folder = landing / task_id.removeprefix("enrich_") / str(map_index)
        for name in ("block_01_webhook.csv", "block_02_enrich_lead.csv", "block_03_find_email.csv"):
            path = folder / name
            expected.add(path)
            assert sha256_of(path) == emulator.file_sha256(job_id, name), path
    assert {p for p in landing.rglob("*") if p.is_file()} == expected
    stats = emulator.stats()
    print(
        f"\nfault soak slice through airflow dags test: {SLICE_RUNS} runs, tries per task {_tries(db)}, "
        f"faults fired {stats['faults_fired']}, requests {stats['requests_total']}, "
        f"idempotent replays {stats['idempotent_replays']}"
    )


def _states(db: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT state, COUNT(*) FROM task_instance WHERE dag_id = 'sixtyfour_soak_slice' GROUP BY state"
        ).fetchall()
    return {str(state): int(count) for state, count in rows}


def _tries(db: Path) -> dict[int, int]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT try_number, COUNT(*) FROM task_instance WHERE dag_id = 'sixtyfour_soak_slice' GROUP BY try_number"
        ).fetchall()
    return {int(tries): int(count) for tries, count in rows}


def _mapped_xcoms(db: Path, key: str) -> dict[tuple[str, int], Any]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT task_id, map_index, value FROM xcom WHERE dag_id = 'sixtyfour_soak_slice' AND key = ?", (key,)
        ).fetchall()
    found: dict[tuple[str, int], Any] = {}
    for task_id, map_index, value in rows:
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        found[(str(task_id), int(map_index))] = json.loads(value)
    return found
