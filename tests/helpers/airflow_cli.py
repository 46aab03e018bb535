"""The real ``airflow`` CLI in a throwaway home (fixtures ``airflow_template_home`` and ``airflow_cli``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class AirflowCli:
    """Runs the real ``airflow`` CLI in a throwaway home, one DAGs folder per test."""

    home: Path
    dags_folder: Path
    base_env: dict[str, str] = field(default_factory=dict)

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(self.base_env)
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(self.dags_folder)
        if extra:
            env.update(extra)
        return env

    def run(
        self, *args: str, extra_env: Mapping[str, str] | None = None, timeout: float = 240, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS...``; stdout and stderr are captured together."""
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self.env(extra_env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} exited {proc.returncode}:\n{proc.stdout[-6000:]}")
        return proc

    @staticmethod
    def json_output(stdout: str) -> Any:
        """The JSON document an ``airflow ... -o json`` command printed on its last ``[`` line.

        Log lines may come before it, and some of them start with ``[`` too (``[info     ] ...`` on 3.1).
        """
        (line,) = [line for line in stdout.splitlines() if line.startswith("[")][-1:]
        return json.loads(line)

    def add_dag(self, name: str, source: str) -> Path:
        """Write a DAG file (dedented source) into this test's DAGs folder."""
        path = self.dags_folder / name
        path.write_text(textwrap.dedent(source))
        return path

    def dags_test(
        self, dag_id: str, *, extra_env: Mapping[str, str] | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess[str]:
        """``airflow dags test DAG_ID``: runs the whole DAG in one process, triggers inline."""
        return self.run("dags", "test", dag_id, extra_env=extra_env, timeout=timeout)

    def all_logs(self) -> str:
        """Every task log file written under this home, concatenated (for secret audits)."""
        parts = []
        for path in sorted((self.home / "logs").rglob("*")):
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)


def airflow_base_env(home: Path) -> dict[str, str]:
    """The environment of ``airflow`` commands in ``home``: no inherited Airflow settings, SQLite, no examples."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTOR": "SequentialExecutor" if airflow_major() < 3 else "LocalExecutor",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "PYTHONWARNINGS": "ignore",
        }
    )
    return env


def airflow_major() -> int:
    """The installed Airflow's major version (2 or 3)."""
    from importlib.metadata import version

    return int(version("apache-airflow").split(".")[0])
