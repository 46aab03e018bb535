"""A real Airflow 3.3 on 127.0.0.1 for end-to-end tests: API server, scheduler, DAG processor, triggerer.

``AirflowCluster`` migrates a SQLite database in a throwaway ``AIRFLOW_HOME``, starts the four Airflow
services as separate subprocesses (LocalExecutor, so task workers are children of the scheduler), waits
until the API server reports every service healthy, and talks to it over the public REST API v2.

Every service runs in a session of its own, and every descendant stays in it (Airflow moves task runners
into process groups of their own, not sessions); every process also carries a per-cluster marker in its
environment. So ``stop()`` finds and kills the whole tree, and ``leftover_processes()`` proves that
nothing survived. If the test process itself dies, the services get SIGTERM from the kernel.

Only the standard library and ``psutil`` (an Airflow dependency) are imported at module level, so this
module is importable (not runnable) on Airflow 2.11 too.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any

MARKER_ENV = "SIXTYFOUR_E2E_CLUSTER"
"""Environment variable set to a per-cluster token in every process a cluster starts."""

SERVICES: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")
"""The Airflow services a cluster runs, in start order."""

TERMINAL_RUN_STATES = frozenset({"success", "failed"})


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ClusterError(AssertionError):
    """The cluster did not start, a service died, or a wait timed out; the message carries diagnostics."""


@dataclass
class _Service:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None


@dataclass
class _ApiAnswer:
    status: int
    body: Any


@dataclass
class AirflowCluster:
    """A real Airflow (LocalExecutor, SQLite) with its services as separate processes, for one test.

    Use it as a context manager: ``__enter__`` migrates the database and starts the services;
    ``__exit__`` stops every process it started (SIGTERM, then SIGKILL after ``stop_grace``), also when
    the test failed.

    :param home: the ``AIRFLOW_HOME`` to use (created if missing); the database, ``logs/`` (task and
        trigger logs) and ``process-logs/`` (one file per service: stdout and stderr) are written here.
    :param dags_folder: the DAGs folder the DAG processor parses.
    :param env: extra environment for every Airflow process (connections as ``AIRFLOW_CONN_*``,
        config overrides as ``AIRFLOW__SECTION__KEY``); wins over the cluster's defaults. The test
        process's own ``AIRFLOW__*``, ``AIRFLOW_CONN_*`` and ``AIRFLOW_VAR_*`` variables are not
        inherited: pass what the DAGs need here.
    :param python: the interpreter whose Airflow to run; defaults to the current one.
    :param scheduled_runs: let the scheduler create runs from DAG schedules (``[scheduler]
        use_job_schedule``). Off by default, so that unpausing a scheduled DAG does not start an
        extra run next to the one the test triggers.
    :param startup_timeout: seconds to wait for every service to report healthy.
    :param stop_grace: seconds between SIGTERM and SIGKILL when stopping.
    """

    home: Path
    dags_folder: Path
    env: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    scheduled_runs: bool = False
    startup_timeout: float = 150.0
    stop_grace: float = 10.0

    api_port: int = field(init=False, default=0)
    marker: str = field(init=False, default="")
    _services: list[_Service] = field(init=False, default_factory=list)
    _observed: dict[tuple[str, str, str], list[str]] = field(init=False, default_factory=dict)
    _started_pids: set[int] = field(init=False, default_factory=set)
    timings: dict[str, float] = field(init=False, default_factory=dict)
    force_killed: list[str] = field(init=False, default_factory=list)
    _env: dict[str, str] = field(init=False, default_factory=dict)
    _stopped_services: list[_Service] = field(init=False, default_factory=list)
    _started_at: datetime = field(init=False, default=datetime.max.replace(tzinfo=timezone.utc))

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.dags_folder = Path(self.dags_folder)
        self.marker = secrets.token_hex(8)

    # ----------------------------------------------------------------------------------------------
    # Life cycle
    # ----------------------------------------------------------------------------------------------

    def __enter__(self) -> AirflowCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The API server's base URL, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def process_log_dir(self) -> Path:
        """Where each service's stdout and stderr go, one ``<service>.log`` file each."""
        return self.home / "process-logs"

    @property
    def task_log_dir(self) -> Path:
        """Airflow's base log folder: task logs, trigger logs, DAG processor logs."""
        return self.home / "logs"

    def airflow_env(self) -> dict[str, str]:
        """The environment every Airflow process of this cluster runs with."""
        if not self.api_port:
            self.api_port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
        api = self.api_url
        env.update(
            {
                MARKER_ENV: self.marker,
                "AIRFLOW_HOME": str(self.home),
                "PYTHONWARNINGS": "ignore",
                "PYTHONUNBUFFERED": "1",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{self.home / 'airflow.db'}",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(self.task_log_dir),
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # Every process must agree on these; left to Airflow, each could generate its own.
                "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                # The API server (REST API v2 and the execution API that LocalExecutor workers call).
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__BASE_URL": api,
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
                "AIRFLOW__CORE__AUTH_MANAGER": (
                    "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(self.home / "simple_auth_passwords.json"),
                # Short loops so that a run takes seconds, not minutes.
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": str(self.scheduled_runs),
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
                # A task supervisor notices its task's exit within this many seconds. A trigger that fires
                # before the deferring workload's exit is reported loses a race in Airflow 3.3 (the stale
                # success is taken as a state mismatch and the task fails: apache/airflow#66374, #72716).
                "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",
                "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
                "AIRFLOW__DAG_PROCESSOR__BUNDLE_REFRESH_CHECK_INTERVAL": "2",
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                # The log servers would bind fixed ports shared by concurrent tests; logs are read from disk.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
            }
        )
        env.update(self.env)
        return env

    def start(self) -> None:
        """Migrate the database, start the services and wait until all of them are healthy."""
        if self._services:
            raise ClusterError("this cluster is already started")
        started = time.monotonic()
        self._started_at = datetime.now(timezone.utc)
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        self.process_log_dir.mkdir(parents=True, exist_ok=True)
        self._env = self.airflow_env()

        migrate = self.airflow("db", "migrate", timeout=300)
        if migrate.returncode != 0:
            raise ClusterError(f"airflow db migrate exited {migrate.returncode}:\n{migrate.stdout[-6000:]}")
        self.timings["migrate"] = time.monotonic() - started

        for name, args in self.service_commands().items():
            self._spawn(name, args)
        self.wait_healthy(self.startup_timeout)
        self.timings["start"] = time.monotonic() - started

    def service_commands(self) -> dict[str, list[str]]:
        """The ``airflow`` arguments of each service, by name, in start order (``SERVICES``)."""
        port = str(self.api_port)
        return {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", port, "--workers", "1"],
            "scheduler": ["scheduler", "--skip-serve-logs"],
            "dag-processor": ["dag-processor"],
            "triggerer": ["triggerer", "--skip-serve-logs"],
        }

    def _spawn(self, name: str, args: list[str]) -> None:
        log_path = self.process_log_dir / f"{name}.log"
        log_file = log_path.open("ab")
        service = _Service(name=name, argv=[self.python, "-m", "airflow", *args], log_path=log_path)
        service.log_file = log_file
        # A new session per service: its own process group, so a signal reaches its children too.
        service.popen = subprocess.Popen(
            service.argv,
            env=self.service_env(name),
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_terminate_with_parent,
        )
        self._started_pids.add(service.popen.pid)
        self._services.append(service)

    def service_env(self, name: str) -> dict[str, str]:
        """The environment of the service ``name``: the cluster's (subclasses add per-service variables)."""
        return self._env

    def airflow(
        self, *args: str, timeout: float = 120, extra_env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the ``airflow`` CLI once with this cluster's environment; stdout and stderr together."""
        env = dict(self._env or self.airflow_env())
        if extra_env:
            env.update(extra_env)
        return subprocess.run(
            [self.python, "-m", "airflow", *args],
            env=env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
            start_new_session=True,
        )

    def stop(self) -> None:
        """Stop every process this cluster started and all their descendants; idempotent.

        SIGTERM to each service's process group first (the scheduler, triggerer and API server shut
        down cleanly on it), SIGKILL to every process of the cluster (see ``leftover_processes``) still
        alive ``stop_grace`` seconds later; those are listed in ``force_killed``.
        """
        if not self._services:
            return
        started = time.monotonic()
        for service in self._services:
            if service.popen is not None and service.popen.poll() is None:
                _signal_group(service.popen.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_grace
        survivors = self.leftover_processes()
        while survivors and time.monotonic() < deadline:
            time.sleep(0.2)
            for service in self._services:
                if service.popen is not None:
                    service.popen.poll()  # reap, so that an exited service stops counting
            survivors = self.leftover_processes()
        # Whatever is left (including task runners in process groups of their own) gets SIGKILL.
        self.force_killed = [_describe(proc) for proc in survivors]
        for _ in range(50):
            if not survivors:
                break
            for proc in survivors:
                _kill_pid(proc.pid)
            for service in self._services:
                if service.popen is not None and service.popen.poll() is None:
                    _signal_group(service.popen.pid, signal.SIGKILL)
            time.sleep(0.1)
            survivors = self.leftover_processes()
        for service in self._services:
            if service.popen is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    service.popen.wait(timeout=5)
            if service.log_file is not None:
                service.log_file.close()
        self.timings["stop"] = time.monotonic() - started
        self._stopped_services = list(self._services)
        self._services = []

    def started_pids(self) -> set[int]:
        """The pids of the service processes this cluster started (not their children)."""
        return set(self._started_pids)

    def leftover_processes(self) -> list[Any]:
        """Live processes (``psutil.Process``) that this cluster started, directly or as descendants.

        A process counts if it is in the session of a service this cluster started (every service runs
        in a session of its own; Airflow's task runners change their process group, not their session),
        or carries this cluster's marker in its environment. Linux keeps a session id allocated while
        any member lives, so a session id cannot point at a stranger's process. Zombies count as gone.
        """
        import psutil

        sessions = self._started_pids
        found = []
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if proc.info["status"] == psutil.STATUS_ZOMBIE or proc.pid == os.getpid():
                    continue
                if os.getsid(proc.pid) in sessions or _env_marker(proc) == self.marker:
                    found.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
                continue
        return found

    def service_pids(self) -> dict[str, int]:
        """The pid of each running service process, by service name."""
        return {s.name: s.popen.pid for s in self._services if s.popen is not None and s.popen.poll() is None}

    def check_alive(self) -> None:
        """Raise ``ClusterError`` (with the tail of its log) if any service has exited."""
        for service in self._services:
            if service.popen is not None and (code := service.popen.poll()) is not None:
                raise ClusterError(
                    f"airflow {service.name} exited with {code}:\n{_tail(service.log_path)}\n{self.diagnostics()}"
                )

    # ----------------------------------------------------------------------------------------------
    # REST API v2
    # ----------------------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: object = None, *, timeout: float = 30) -> _ApiAnswer:
        """One call to the API server (``path`` under ``/api/v2``); JSON in, JSON out, no raise on 4xx."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v2{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
                status = response.status
        except urllib.error.HTTPError as err:
            raw = err.read()
            status = err.code
        try:
            parsed: Any = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return _ApiAnswer(status=status, body=parsed)

    def _api_ok(self, method: str, path: str, body: object = None) -> Any:
        answer = self.api(method, path, body)
        # SQLite lets one writer at a time: on a loaded machine a write can wait out the lock timeout and
        # the API server answers 500 "Database error" after rolling the write back, so try again.
        for _ in range(3):
            if answer.status != 500 or "Database error" not in str(answer.body):
                break
            time.sleep(1.0)
            answer = self.api(method, path, body)
        if answer.status >= 400:
            raise ClusterError(f"{method} /api/v2{path} answered {answer.status}: {answer.body}")
        return answer.body

    def health(self) -> dict[str, Any] | None:
        """``/api/v2/monitor/health``, or ``None`` while the API server does not answer."""
        try:
            answer = self.api("GET", "/monitor/health", timeout=5)
        except (OSError, urllib.error.URLError):
            return None
        return answer.body if answer.status == 200 and isinstance(answer.body, dict) else None

    def wait_healthy(self, timeout: float) -> dict[str, Any]:
        """Wait until the database, scheduler, triggerer and DAG processor all report ``healthy``."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            self.check_alive()
            last = self.health()
            if last is not None and all(
                (last.get(part) or {}).get("status") == "healthy"
                for part in ("metadatabase", "scheduler", "triggerer", "dag_processor")
            ):
                return last
            time.sleep(0.5)
        raise ClusterError(f"services not healthy after {timeout:.0f}s; last health: {last}\n{self.diagnostics()}")

    def wait_for_dag(self, dag_id: str, timeout: float = 90) -> dict[str, Any]:
        """Wait until the DAG processor has parsed and serialized ``dag_id``; fails fast on import errors."""
        deadline = time.monotonic() + timeout
        quoted = urllib.parse.quote(dag_id, safe="")
        while time.monotonic() < deadline:
            self.check_alive()
            answer = self.api("GET", f"/dags/{quoted}")
            if answer.status == 200:
                return dict(answer.body)
            errors = self.import_errors()
            if errors:
                raise ClusterError(f"DAG import errors while waiting for {dag_id}: {errors}")
            time.sleep(0.5)
        raise ClusterError(f"DAG {dag_id} not parsed after {timeout:.0f}s\n{self.diagnostics()}")

    def import_errors(self) -> list[dict[str, Any]]:
        """The DAG processor's import errors (file and stack trace)."""
        body = self._api_ok("GET", "/importErrors")
        return list(body.get("import_errors", []))

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id`` (DAGs are paused at creation; a paused DAG's runs are not scheduled)."""
        self._api_ok("PATCH", f"/dags/{urllib.parse.quote(dag_id, safe='')}", {"is_paused": False})

    def trigger_dag(
        self, dag_id: str, logical_date: str | None = None, conf: Mapping[str, object] | None = None
    ) -> str:
        """Trigger a manual run through the REST API; returns its ``dag_run_id``.

        :param logical_date: ISO 8601 with a time zone (e.g. ``2026-01-15T00:00:00+00:00``), or ``None``
            for a run without a logical date.
        :param conf: the run's ``conf``.
        """
        body = {"logical_date": logical_date, "conf": dict(conf or {})}
        answer = self._api_ok("POST", f"/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns", body)
        return str(answer["dag_run_id"])

    def run_dag(
        self,
        dag_id: str,
        logical_date: str | None = None,
        conf: Mapping[str, object] | None = None,
        timeout: float = 150,
    ) -> tuple[str, str]:
        """Wait for the DAG to be parsed, unpause it, trigger it and wait: returns ``(run_id, final state)``."""
        self.wait_for_dag(dag_id)
        self.unpause(dag_id)
        run_id = self.trigger_dag(dag_id, logical_date=logical_date, conf=conf)
        return run_id, self.wait_for_dag_run(dag_id, run_id, timeout=timeout)

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The DAG run as the REST API returns it."""
        return dict(self._api_ok("GET", self._run_path(dag_id, run_id)))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """The run's task instances as the REST API returns them (``task_id``, ``state``, ``try_number``...)."""
        body = self._api_ok("GET", f"{self._run_path(dag_id, run_id)}/taskInstances?limit=100")
        return list(body.get("task_instances", []))

    def wait_for_dag_run(self, dag_id: str, run_id: str, timeout: float = 150, poll: float = 0.5) -> str:
        """Wait until the run is ``success`` or ``failed``; returns that state.

        While waiting it records every state each task instance was seen in (``observed_states``).
        Raises ``ClusterError`` with diagnostics if a service dies or the timeout passes.
        """
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self.check_alive()
            self._observe(dag_id, run_id)
            state = self.dag_run(dag_id, run_id).get("state")
            if state in TERMINAL_RUN_STATES:
                self._observe(dag_id, run_id)
                return str(state)
            time.sleep(poll)
        tis = {ti["task_id"]: ti.get("state") for ti in self.task_instances(dag_id, run_id)}
        raise ClusterError(
            f"run {dag_id}/{run_id} still {state!r} after {timeout:.0f}s; tasks: {tis}\n{self.diagnostics()}"
        )

    def observed_states(self, dag_id: str, run_id: str, task_id: str) -> list[str]:
        """The distinct states ``wait_for_dag_run`` saw the task instance in, in order."""
        return list(self._observed.get((dag_id, run_id, task_id), []))

    def _observe(self, dag_id: str, run_id: str) -> None:
        for ti in self.task_instances(dag_id, run_id):
            seen = self._observed.setdefault((dag_id, run_id, ti["task_id"]), [])
            state = ti.get("state") or "none"
            if not seen or seen[-1] != state:
                seen.append(state)

    def triggerer_job_ids(self) -> list[int]:
        """Ids of the triggerer jobs that this cluster's triggerer process registered in the database."""
        body = self._api_ok("GET", "/jobs?job_type=TriggererJob&limit=100")
        return [
            int(job["id"])
            for job in body.get("jobs", [])
            if job.get("start_date") and _parse_time(job["start_date"]) >= self._started_at
        ]

    @staticmethod
    def _run_path(dag_id: str, run_id: str) -> str:
        return f"/dags/{urllib.parse.quote(dag_id, safe='')}/dagRuns/{urllib.parse.quote(run_id, safe='')}"

    # ----------------------------------------------------------------------------------------------
    # Drills: restart a service, kill a task's process, act on a task instance, read what Airflow stored
    # ----------------------------------------------------------------------------------------------

    def restart_service(self, name: str, timeout: float = 120) -> int:
        """Stop one service as an operator would (SIGTERM to its process group, SIGKILL after
        ``stop_grace``) and start it again; returns the new process's pid.

        For the triggerer, waits until the new process has registered a new triggerer job; for the
        other services, until every service reports healthy again.
        """
        (service,) = [s for s in self._services if s.name == name]
        before = set(self.triggerer_job_ids()) if name == "triggerer" else set()
        assert service.popen is not None
        _signal_group(service.popen.pid, signal.SIGTERM)
        try:
            service.popen.wait(timeout=self.stop_grace)
        except subprocess.TimeoutExpired:
            _signal_group(service.popen.pid, signal.SIGKILL)
            service.popen.wait(timeout=30)
            self.force_killed.append(f"{service.popen.pid} airflow {name} (restart)")
        # Its task runners or trigger runners live in the same session: none may survive the restart.
        deadline = time.monotonic() + self.stop_grace
        while self._session_members(service.popen.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        for proc in self._session_members(service.popen.pid):
            _kill_pid(proc.pid)
        if service.log_file is not None:
            service.log_file.close()
        self._services.remove(service)
        self._stopped_services.append(service)
        self._spawn(name, service.argv[3:])
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            self.check_alive()
            if name == "triggerer":
                if set(self.triggerer_job_ids()) - before:
                    break
            elif self.health() is not None:
                break
            time.sleep(0.5)
        else:
            raise ClusterError(f"airflow {name} did not come back within {timeout:.0f}s\n{self.diagnostics()}")
        self.wait_healthy(timeout)
        return self.service_pids()[name]

    def _session_members(self, session_id: int) -> list[Any]:
        import psutil

        members = []
        for proc in psutil.process_iter(["pid", "status"]):
            try:
                if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(proc.pid) == session_id:
                    members.append(proc)
            except (psutil.NoSuchProcess, psutil.AccessDenied, OSError):
                continue
        return members

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict[str, Any]:
        """One task instance as the REST API returns it (``state``, ``try_number``, ``id``...)."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{urllib.parse.quote(task_id, safe='')}"
        return dict(self._api_ok("GET", path))

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> dict[str, Any]:
        """Mark a task instance ``failed``/``success``/``skipped`` through the REST API, as a user does in the UI."""
        path = f"{self._run_path(dag_id, run_id)}/taskInstances/{urllib.parse.quote(task_id, safe='')}"
        return dict(self._api_ok("PATCH", path, {"new_state": state}))

    def task_processes(self, ti_id: str) -> list[Any]:
        """The process running a task instance's code (the task runner, titled ``airflow worker -- <ti id>``)."""
        import psutil

        title = f"airflow worker -- {ti_id}"
        found = []
        for proc in self.leftover_processes():
            with contextlib.suppress(psutil.Error):
                if " ".join(proc.cmdline()).strip() == title:
                    found.append(proc)
        return found

    def kill_task_process(self, dag_id: str, run_id: str, task_id: str, sig: signal.Signals = signal.SIGKILL) -> int:
        """Kill the process running a task (as the OOM killer would, by default); returns its pid."""
        ti_id = str(self.task_instance(dag_id, run_id, task_id)["id"])
        processes = self.task_processes(ti_id)
        if len(processes) != 1:
            raise ClusterError(f"expected one process running {dag_id}/{run_id}/{task_id}, found {processes}")
        pid = int(processes[0].pid)
        os.kill(pid, sig)
        return pid

    def database(self) -> Path:
        """The cluster's SQLite database file (open it read-only while the cluster runs)."""
        return self.home / "airflow.db"

    def trigger_kwargs(self) -> dict[int, tuple[str, dict[str, Any]]]:
        """Every trigger row as Airflow stored it: ``{id: (classpath, kwargs)}``, the kwargs decrypted.

        This is what a (re)started triggerer rebuilds each trigger from.
        """
        import sqlite3

        from airflow.sdk.serde import deserialize
        from cryptography.fernet import Fernet

        fernet = Fernet(self._env["AIRFLOW__CORE__FERNET_KEY"].encode())
        with contextlib.closing(sqlite3.connect(f"file:{self.database()}?mode=ro", uri=True, timeout=10)) as db:
            rows = db.execute("SELECT id, classpath, kwargs FROM trigger").fetchall()
        found = {}
        for trigger_id, classpath, encrypted in rows:
            text = encrypted if encrypted.startswith("{") else fernet.decrypt(encrypted.encode()).decode()
            kwargs: Any = deserialize(json.loads(text))
            found[int(trigger_id)] = (str(classpath), dict(kwargs))
        return found

    # ----------------------------------------------------------------------------------------------
    # Logs
    # ----------------------------------------------------------------------------------------------

    def process_logs(self) -> dict[str, str]:
        """The text each service wrote to stdout and stderr, by service name."""
        return {
            path.stem: path.read_text(errors="replace")
            for path in sorted(self.process_log_dir.glob("*.log"))
            if path.is_file()
        }

    def task_logs(self) -> dict[Path, str]:
        """The text of every file under ``$AIRFLOW_HOME/logs`` (task, trigger and DAG processor logs)."""
        return {
            path: path.read_text(errors="replace") for path in sorted(self.task_log_dir.rglob("*")) if path.is_file()
        }

    def all_log_text(self) -> str:
        """Every process log and every file under ``logs/``, concatenated (for secret audits)."""
        return "\n".join([*self.process_logs().values(), *self.task_logs().values()])

    def logs_containing(self, text: str) -> list[str]:
        """Which logs contain ``text``: service names (``api-server``...) and paths under ``logs/``.

        For secret audits: ``assert cluster.logs_containing(API_KEY) == []`` names the leaking file.
        """
        hits = [name for name, log in self.process_logs().items() if text in log]
        hits += [str(path) for path, log in self.task_logs().items() if text in log]
        return hits

    def task_log_files(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        """The worker's log files of one task instance (all tries), without the trigger logs."""
        return [p for p in self._ti_log_files(dag_id, run_id, task_id) if ".trigger." not in p.name]

    def trigger_log_files(self, dag_id: str, run_id: str, task_id: str) -> dict[int, Path]:
        """The trigger log files of one task instance, by the id of the triggerer job that wrote them.

        The triggerer writes a trigger's log next to the task's log as ``<task log>.trigger.<job id>.log``.
        """
        found: dict[int, Path] = {}
        for path in self._ti_log_files(dag_id, run_id, task_id):
            stem, sep, rest = path.name.partition(".trigger.")
            job_id = rest.removesuffix(".log")
            if sep and stem and job_id.isdigit():
                found[int(job_id)] = path
        return found

    def _ti_log_files(self, dag_id: str, run_id: str, task_id: str) -> list[Path]:
        # The default template is dag_id=X/run_id=Y/task_id=Z[/map_index=N]/attempt=K.log.
        base = self.task_log_dir / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else []

    def deferral_evidence(self, dag_id: str, run_id: str, task_id: str) -> DeferralEvidence:
        """Collect what shows that the task deferred, its trigger ran in this cluster's triggerer, and it
        resumed on a worker."""
        ti_ids = [str(ti["id"]) for ti in self.task_instances(dag_id, run_id) if ti["task_id"] == task_id]
        api_log = self.process_logs().get("api-server", "")
        deferred_updates = [
            line
            for line in api_log.splitlines()
            if "new_state=deferred" in line and any(f"ti_id={ti_id}" in line for ti_id in ti_ids)
        ]
        return DeferralEvidence(
            task_id=task_id,
            observed_states=tuple(self.observed_states(dag_id, run_id, task_id)),
            deferred_state_updates=tuple(deferred_updates),
            triggerer_job_ids=tuple(self.triggerer_job_ids()),
            trigger_logs={
                job: path.read_text(errors="replace")
                for job, path in self.trigger_log_files(dag_id, run_id, task_id).items()
            },
            worker_log="\n".join(p.read_text(errors="replace") for p in self.task_log_files(dag_id, run_id, task_id)),
        )

    def assert_deferred_in_triggerer(self, dag_id: str, run_id: str, task_id: str) -> DeferralEvidence:
        """Assert the task deferred, its trigger ran in this cluster's triggerer process (not inline in
        the worker), and a worker resumed the task after the trigger fired."""
        evidence = self.deferral_evidence(dag_id, run_id, task_id)
        problems = evidence.problems()
        if problems:
            raise ClusterError(f"{dag_id}/{run_id}/{task_id} did not defer to the triggerer: " + "; ".join(problems))
        return evidence

    def diagnostics(self, tail_chars: int = 3000) -> str:
        """The tail of every service log, for failure messages."""
        parts = []
        for service in [*self._services, *self._stopped_services]:
            parts.append(f"----- {service.name} ({service.log_path}) -----\n{_tail(service.log_path, tail_chars)}")
        return "\n".join(parts)


@dataclass(frozen=True)
class DeferralEvidence:
    """What the API server, the triggerer and the worker recorded about one task instance's deferral.

    :param task_id: the task.
    :param observed_states: the task instance's states as seen while polling the REST API (a short
        deferral can fall between two polls, so this is supporting evidence only).
    :param deferred_state_updates: the API server's log lines where the worker set this task instance
        to ``deferred`` through the execution API.
    :param triggerer_job_ids: the jobs this cluster's triggerer process registered.
    :param trigger_logs: trigger log text by the id of the job that wrote it (from the file name).
    :param worker_log: the worker's task log text (all tries).
    """

    task_id: str
    observed_states: tuple[str, ...]
    deferred_state_updates: tuple[str, ...]
    triggerer_job_ids: tuple[int, ...]
    trigger_logs: Mapping[int, str]
    worker_log: str

    def problems(self) -> list[str]:
        """Every missing piece of evidence; empty when the deferral went through the triggerer."""
        problems = []
        if not self.deferred_state_updates and "deferred" not in self.observed_states:
            problems.append(f"never set to 'deferred' (states seen: {list(self.observed_states)})")
        by_triggerer = [text for job, text in self.trigger_logs.items() if job in self.triggerer_job_ids]
        if not by_triggerer:
            problems.append(
                f"no trigger log written by this cluster's triggerer (trigger logs by job id: "
                f"{sorted(self.trigger_logs)}, triggerer jobs: {list(self.triggerer_job_ids)})"
            )
        elif not any(_TRIGGER_STARTED in text and _TRIGGER_FIRED in text for text in by_triggerer):
            problems.append(f"the triggerer's log for this task lacks {_TRIGGER_STARTED!r} and {_TRIGGER_FIRED!r}")
        if _TRIGGER_FIRED in self.worker_log:
            problems.append("the trigger ran inline in the worker (its events are in the task log)")
        if _DEFERRING not in self.worker_log:
            problems.append("the worker's task log does not show the task deferring")
        elif not self.resumed:
            problems.append("the worker's task log does not show the task resuming after the deferral")
        return problems

    @property
    def resumed(self) -> bool:
        """A worker started the task again after it deferred (a new execution start in its log)."""
        after = self.worker_log.split(_DEFERRING, 1)[-1] if _DEFERRING in self.worker_log else ""
        return any(marker in after for marker in _EXECUTION_START_MARKERS)


# Log lines of Airflow 3.3's task runner and triggerer that the deferral checks rely on.
_DEFERRING = "Pausing task as DEFERRED"
_TRIGGER_STARTED = ") starting"  # "trigger <dag>/<run>/<task>/<map>/<try> (ID n) starting"
_TRIGGER_FIRED = "Trigger fired event"
_EXECUTION_START_MARKERS = ("::group::Pre Execute", "Worker startup parse complete", "Filling up the DagBag")


def _env_marker(proc: Any) -> str | None:
    # setproctitle (API server, LocalExecutor workers) may overwrite a process's environ area; the session
    # check in leftover_processes covers those.
    try:
        value = proc.environ().get(MARKER_ENV)
    except Exception:
        return None
    return value if isinstance(value, str) else None


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _describe(proc: Any) -> str:
    try:
        return f"{proc.pid} {' '.join(proc.cmdline())[:120]}"
    except Exception:
        return str(proc.pid)


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _terminate_with_parent() -> None:
    """In the child before exec: get SIGTERM if the test process dies without calling ``stop()``."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _kill_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "<no log>"


def copy_dag(source: Path, dags_folder: Path) -> Path:
    """Copy one DAG file into a DAGs folder; returns the copy's path."""
    target = dags_folder / source.name
    shutil.copyfile(source, target)
    return target


#: What the ``airflow_cluster`` fixture gives a test: starts a cluster with the given settings.
StartCluster = Callable[..., AirflowCluster]
