"""A distributed Airflow 3.3 on 127.0.0.1: PostgreSQL, Redis, CeleryExecutor, two workers, two triggerers.

``DistributedCluster`` extends the end-to-end ``AirflowCluster`` (its process management, REST API
client and log readers): it starts a throwaway PostgreSQL (the metadata database and Celery's result
backend) and a Redis (the Celery broker), then the API server, the scheduler, the DAG processor, two
triggerers (``triggerer-1``, ``triggerer-2``) and two Celery workers (``worker-1``, ``worker-2``), each
its own process tree. Every service reports its own name as its hostname (``[core] hostname_callable``),
so a task try's ``hostname`` names the worker that ran it and a triggerer job's names its triggerer.

Every Airflow process runs from ``python``: in CI, a venv holding the built wheel
(``SIXTYFOUR_CLUSTER_PYTHON``). Heartbeat timeouts are short, so that a killed triggerer's triggers
and a killed worker's task are taken over within seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from e2e.airflow_cluster import AirflowCluster, ClusterError, _kill_pid, _parse_time

from .servers import PostgresServer, RedisServer

TRIGGERERS = ("triggerer-1", "triggerer-2")
WORKERS = ("worker-1", "worker-2")
NODE_ENV = "SIXTYFOUR_CLUSTER_NODE"
"""Each service's name, which ``[core] hostname_callable`` reports as its hostname."""

TRIGGERER_HEALTH_CHECK_THRESHOLD = 8
"""Seconds without a heartbeat after which a triggerer's triggers go to another one."""
TASK_HEARTBEAT_TIMEOUT = 60
"""Seconds without a heartbeat after which the scheduler fails a running task (a dead worker's).

Not lower: in drill a, forty task processes start at once on CI's two cores, and a supervisor that
heartbeats every 5 s can be starved past 20 s, so the scheduler failed a live task (stop 18's CI)."""

_NODE_MODULE = '''"""Written by tests/distributed/cluster.py: this service's name as the hostname Airflow records."""
import os


def hostname() -> str:
    return os.environ["{env}"]
'''

# Runs in the cluster's python (psycopg2 is there): every text value of the runtime tables, as JSON lines.
_DUMP_DATABASE = """
import json, sys
import psycopg2
skip = set(json.loads(sys.argv[2]))
with psycopg2.connect(sys.argv[1]) as db, db.cursor() as cur:
    cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
    for (table,) in cur.fetchall():
        if table in skip:
            continue
        cur.execute(f'SELECT * FROM "{table}"')
        names = [d[0] for d in cur.description]
        for row in cur.fetchall():
            for name, value in zip(names, row):
                if isinstance(value, memoryview):
                    value = bytes(value).decode("utf-8", "replace")
                elif isinstance(value, (dict, list)):
                    value = json.dumps(value)
                if isinstance(value, str) and value:
                    print(json.dumps([f"{table}.{name}", value]))
"""


@dataclass
class DistributedCluster(AirflowCluster):
    """A real Airflow 3.3 with CeleryExecutor on PostgreSQL and Redis, two workers and two triggerers.

    Use it as a context manager, like ``AirflowCluster``; ``stop()`` also stops PostgreSQL and Redis and
    deletes their data.

    :param worker_concurrency: task slots of each Celery worker.
    :param triggerer_capacity: triggers each triggerer runs at most (``[triggerer] capacity``).
    """

    worker_concurrency: int = 10
    triggerer_capacity: int = 25
    startup_timeout: float = 240.0

    postgres: PostgresServer = field(init=False, default_factory=PostgresServer)
    redis: RedisServer = field(init=False, default_factory=RedisServer)

    def airflow_env(self) -> dict[str, str]:
        env = super().airflow_env()
        site = self.home / "cluster-site"
        env.update(
            {
                "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH", "")])),
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "sixtyfour_cluster_node.hostname",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.postgres.url,
                "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "3",
                "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
                "AIRFLOW__CELERY__BROKER_URL": self.redis.url,
                "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self.postgres.url,
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
                "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
                "AIRFLOW__CORE__PARALLELISM": str(2 * self.worker_concurrency + 8),
                "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
                "AIRFLOW__CORE__DEFAULT_POOL_TASK_SLOT_COUNT": "128",
                "AIRFLOW__TRIGGERER__CAPACITY": str(self.triggerer_capacity),
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": str(TRIGGERER_HEALTH_CHECK_THRESHOLD),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(TASK_HEARTBEAT_TIMEOUT),
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
            }
        )
        env.update(self.env)
        return env

    def service_env(self, name: str) -> dict[str, str]:
        return {**self._env, NODE_ENV: name}

    def start(self) -> None:
        """Start PostgreSQL and Redis, then Airflow (see ``AirflowCluster.start``), and wait until both
        triggerers have registered and both workers are ready."""
        if self._services:
            raise ClusterError("this cluster is already started")
        started = time.monotonic()
        self.postgres.start()
        self.redis.start()
        self.timings["backing services"] = time.monotonic() - started
        site = self.home / "cluster-site"
        site.mkdir(parents=True, exist_ok=True)
        (site / "sixtyfour_cluster_node.py").write_text(_NODE_MODULE.replace("{env}", NODE_ENV))
        super().start()
        self.wait_until("both triggerers registered", lambda: len(self.live_triggerers()) == 2, 120)
        for name in WORKERS:
            self.wait_worker_ready(name)
        self.timings["start"] = time.monotonic() - started

    def service_commands(self) -> dict[str, list[str]]:
        commands = super().service_commands()
        triggerer = commands.pop("triggerer")
        commands.update(dict.fromkeys(TRIGGERERS, triggerer))
        for name in WORKERS:
            commands[name] = ["celery", "worker", "--skip-serve-logs", "--celery-hostname", name, "--without-mingle"]
        return commands

    def stop(self) -> None:
        """Stop every Airflow process (see ``AirflowCluster.stop``), then Redis and PostgreSQL."""
        try:
            super().stop()
        finally:
            self.redis.stop()
            self.postgres.stop()

    # ----------------------------------------------------------------------------------------------
    # Killing and starting one service
    # ----------------------------------------------------------------------------------------------

    def kill_service(self, name: str, sig: signal.Signals) -> None:
        """Stop one service: SIGTERM to its process group (a clean shutdown, waited for), or SIGKILL to
        every process of its session at once (a node lost: no process of it gets to clean up)."""
        (service,) = [s for s in self._services if s.name == name]
        assert service.popen is not None
        if sig == signal.SIGKILL:
            for proc in self._session_members(service.popen.pid):
                _kill_pid(proc.pid)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.popen.pid, sig)
        try:
            service.popen.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise ClusterError(f"airflow {name} did not exit on {sig.name}\n{self.diagnostics()}") from None
        deadline = time.monotonic() + 30
        while self._session_members(service.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        for proc in self._session_members(service.popen.pid):
            _kill_pid(proc.pid)
        if service.log_file is not None:
            service.log_file.close()
        self._services.remove(service)
        self._stopped_services.append(service)

    def start_service(self, name: str) -> None:
        """Start a service that ``kill_service`` stopped (same command, a fresh log)."""
        if any(s.name == name for s in self._services):
            raise ClusterError(f"airflow {name} is already running")
        self._spawn(name, self.service_commands()[name])
        if name in WORKERS:
            self.wait_worker_ready(name)

    def ensure_running(self, names: tuple[str, ...]) -> None:
        """Start those of the services ``names`` that are not running (what a drill stopped)."""
        running = set(self.service_pids())
        for name in names:
            if name not in running:
                self.start_service(name)

    def wait_worker_ready(self, name: str, timeout: float = 180) -> None:
        """Wait until the Celery worker ``name`` logs that it is ready (its log since its last start)."""
        (service,) = [s for s in self._services if s.name == name]
        self.wait_until(
            f"Celery worker {name} ready",
            lambda: service.log_path.read_text(errors="replace").count(f"@{name} ready") >= self._starts(name),
            timeout,
        )

    def _starts(self, name: str) -> int:
        # A restarted service appends to the same log: it is ready once every start logged it.
        return sum(1 for s in [*self._services, *self._stopped_services] if s.name == name)

    def wait_until(self, what: str, check: Any, timeout: float = 150) -> Any:
        """Poll ``check`` every 0.5 s until it returns something truthy (a hang guard, not a timing claim)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.check_alive()
            value = check()
            if value:
                return value
            time.sleep(0.5)
        raise ClusterError(f"{what}: not within {timeout:.0f} s\n{self.diagnostics()}")

    def api(self, method: str, path: str, body: object = None, *, timeout: float = 60) -> Any:
        """``AirflowCluster.api`` with a longer timeout, and reads asked again (twice at most) when the
        API server, busy on a loaded machine, does not answer in time."""
        for attempt in range(3):
            try:
                return super().api(method, path, body, timeout=timeout)
            except OSError:  # a timeout, a refused or reset connection
                if method != "GET" or attempt == 2:
                    raise
                time.sleep(2)
        raise AssertionError("unreachable")

    # ----------------------------------------------------------------------------------------------
    # What the cluster recorded
    # ----------------------------------------------------------------------------------------------

    def triggerer_jobs(self) -> dict[int, dict[str, Any]]:
        """Every triggerer job this cluster's triggerers registered, by id (``hostname``, ``state``...)."""
        body = self._api_ok("GET", "/jobs?job_type=TriggererJob&limit=100")
        return {
            int(job["id"]): dict(job)
            for job in body.get("jobs", [])
            if job.get("start_date") and _parse_time(job["start_date"]) >= self._started_at
        }

    def live_triggerers(self) -> dict[int, str]:
        """The running triggerer jobs: ``{job id: triggerer name}``."""
        return {
            job: str(info["hostname"]) for job, info in self.triggerer_jobs().items() if info.get("state") == "running"
        }

    def triggerer_of(self, job_id: int) -> str:
        """The name of the triggerer (``triggerer-1``/``triggerer-2``) that ran triggerer job ``job_id``."""
        return str(self.triggerer_jobs()[job_id]["hostname"])

    def mapped_trigger_logs(self, dag_id: str, run_id: str, task_id: str) -> dict[int, dict[int, str]]:
        """Trigger log text of each map index of a mapped task, by the triggerer job that wrote it."""
        found: dict[int, dict[int, str]] = {}
        base = self.task_log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        for path in sorted(base.rglob("*.trigger.*.log")) if base.is_dir() else []:
            index = next((p.removeprefix("map_index=") for p in path.parts if p.startswith("map_index=")), "-1")
            job = path.name.rpartition(".trigger.")[2].removesuffix(".log")
            if job.isdigit():
                found.setdefault(int(index), {})[int(job)] = path.read_text(errors="replace")
        return found

    def mapped_task_instances(self, dag_id: str, run_id: str, task_id: str) -> dict[int, dict[str, Any]]:
        """The task instances of one (mapped) task, by map index."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances?task_id={task_id}&limit=200"
        body = self._api_ok("GET", path)
        return {int(ti["map_index"]): dict(ti) for ti in body.get("task_instances", []) if ti["task_id"] == task_id}

    def tries(self, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> list[dict[str, Any]]:
        """Every try of a task instance (``try_number``, ``hostname``, ``state``), oldest first."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/{map_index}/tries"
        if map_index < 0:
            path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/tries"
        body = self._api_ok("GET", path)
        return sorted(body.get("task_instances", []), key=lambda ti: int(ti["try_number"]))

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1) -> Any:
        """One XCom value as the REST API returns it (deserialized), or None when there is none."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{task_id}/xcomEntries/{key}?map_index={map_index}"
        answer = self.api("GET", path)
        if answer.status == 404:
            return None
        if answer.status >= 400:
            raise ClusterError(f"GET xcom {key} of {task_id}[{map_index}] answered {answer.status}: {answer.body}")
        return answer.body.get("value")

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """Clear one task instance through the REST API, as a user does in the UI."""
        body = {"dag_run_id": run_id, "task_ids": [task_id], "dry_run": False, "only_failed": False}
        return dict(self._api_ok("POST", f"/dags/{dag_id}/clearTaskInstances", body))

    def database_texts(self, skip_tables: frozenset[str]) -> list[tuple[str, str]]:
        """``(table.column, text)`` of every text value in the PostgreSQL database (for the secret audit),
        read by the cluster's python (which has psycopg2)."""
        url = self.postgres.url.replace("postgresql+psycopg2", "postgresql")  # a libpq URL
        proc = subprocess.run(
            [self.python, "-c", _DUMP_DATABASE, url, json.dumps(sorted(skip_tables))],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise ClusterError(f"reading the database failed:\n{proc.stderr[-3000:]}")
        return [tuple(json.loads(line)) for line in proc.stdout.splitlines() if line]  # type: ignore[misc]

    def log_files(self) -> list[Path]:
        """Every service log and every file under ``logs/`` (task, trigger, DAG processor logs)."""
        files = sorted(self.process_log_dir.glob("*.log")) + sorted(self.task_log_dir.rglob("*"))
        return [*files, self.postgres.log_path, self.redis.log_path]
