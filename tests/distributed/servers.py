"""The distributed cluster's backing services: a throwaway PostgreSQL and a Redis, on 127.0.0.1 only.

Each runs as a subprocess in a session of its own on a free port, with its data in a fresh temporary
folder that ``stop()`` removes. PostgreSQL comes from the server binaries on PATH (``initdb`` and
``postgres``), with trust authentication for TCP connections from 127.0.0.1 and no Unix socket; as
root (PostgreSQL refuses to run as root) it runs as the ``postgres`` user, or ``nobody``. Redis comes
from ``redis-server`` on PATH, which ``scripts/_services.sh`` installs from Debian's package.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from e2e.airflow_cluster import ClusterError, _free_port, _tail, _terminate_with_parent


@dataclass
class _Server:
    """One server subprocess, its port, its log and its data folder (shared by PostgreSQL and Redis)."""

    name: str
    ready_line: str
    startup_timeout: float = 60.0
    port: int = field(init=False, default=0)
    data_dir: Path = field(init=False, default=Path())
    popen: subprocess.Popen[bytes] | None = field(init=False, default=None)
    _log: IO[bytes] | None = field(init=False, default=None)

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.name}.log"

    def _start(self, argv: list[str], preexec: Callable[[], None] | None = None) -> None:
        self._log = self.log_path.open("ab")
        self.popen = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=preexec or _terminate_with_parent,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ClusterError(f"{self.name} exited with {self.popen.returncode}:\n{_tail(self.log_path)}")
            if self.ready_line in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise ClusterError(f"{self.name} not ready after {self.startup_timeout:.0f}s:\n{_tail(self.log_path)}")

    def stop(self, grace: float = 10.0) -> None:
        """Stop the server (SIGTERM, SIGKILL after ``grace`` seconds) and delete its data; idempotent."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=30)
            self.popen = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.data_dir != Path() and self.data_dir.parent.name.startswith("sixtyfour-"):
            shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def _make_dirs(self, owner: pwd.struct_passwd | None) -> None:
        root = Path(tempfile.mkdtemp(prefix=f"sixtyfour-{self.name}-"))
        self.data_dir = root / "data"
        self.data_dir.mkdir(mode=0o700)
        if owner is not None:
            for path in (root, self.data_dir):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.port = _free_port()


@dataclass
class PostgresServer(_Server):
    """A throwaway PostgreSQL (``initdb`` + ``postgres`` from PATH); user ``airflow``, database ``postgres``."""

    name: str = "postgres"
    ready_line: str = "database system is ready to accept connections"

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the database, for ``[database] sql_alchemy_conn``."""
        return f"postgresql+psycopg2://airflow@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        for binary in ("initdb", "postgres"):
            if shutil.which(binary) is None:
                raise ClusterError(f"{binary} is not on PATH: install the PostgreSQL server (e.g. postgresql-15)")
        owner = _unprivileged_user() if os.geteuid() == 0 else None
        self._make_dirs(owner)
        preexec = _run_as(owner)
        initdb = subprocess.run(
            ["initdb", "-D", str(self.data_dir), "-U", "airflow", "--auth=trust", "--no-sync", "-E", "UTF8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,
            check=False,
            timeout=120,
        )
        if initdb.returncode != 0:
            raise ClusterError(f"initdb exited {initdb.returncode}:\n{initdb.stdout[-3000:]}")
        # Only TCP on 127.0.0.1 (no Unix socket); durability off: the data is thrown away anyway.
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "300",
        }
        argv = ["postgres", "-D", str(self.data_dir)]
        for key, value in settings.items():
            argv += ["-c", f"{key}={value}"]
        self._start(argv, preexec)
        return self


def _unprivileged_user() -> pwd.struct_passwd:
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ClusterError("running as root, and neither a 'postgres' nor a 'nobody' user exists to run PostgreSQL")


def _run_as(owner: pwd.struct_passwd | None) -> Callable[[], None]:
    def preexec() -> None:
        if owner is not None:
            os.setgid(owner.pw_gid)
            os.setgroups([])
            os.setuid(owner.pw_uid)
        # After setuid: changing the user clears the parent-death signal.
        _terminate_with_parent()

    return preexec


@dataclass
class RedisServer(_Server):
    """A throwaway Redis (``redis-server`` from PATH) without persistence, the Celery broker."""

    name: str = "redis"
    ready_line: str = "Ready to accept connections"

    @property
    def url(self) -> str:
        """The broker URL, for ``[celery] broker_url``."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        if shutil.which("redis-server") is None:
            raise ClusterError(
                "redis-server is not on PATH: 'bash scripts/test.sh' installs it (scripts/_services.sh), "
                "or run 'apt-get install -y redis-server'"
            )
        self._make_dirs(None)
        argv = ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.data_dir)]
        argv += ["--save", "", "--appendonly", "no", "--protected-mode", "yes", "--daemonize", "no"]
        self._start(argv)
        return self
