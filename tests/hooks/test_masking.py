"""The key registered with the masker is never printed, in a real ``airflow dags test`` at debug level.

Airflow 3.0's in-process supervisor of ``dags test`` logs each request to it before the masker knows the
value (``Sending request msg=MaskSecret(value=...)``); the secret audit reads the command's output and the
task logs, so this fails on any Airflow where the provider's registration prints the key.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers.airflow_cli import AirflowCli
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.protocol.endpoints import LIST_WORKFLOWS

pytestmark = pytest.mark.slow

DAG_SOURCE = """
from datetime import datetime
import logging

try:
    from airflow.sdk import dag, task
except ImportError:  # Airflow 2
    from airflow.decorators import dag, task

from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourAsyncHook, SixtyfourHook


@dag(dag_id="sixtyfour_masking", start_date=datetime(2026, 1, 1), schedule=None, catchup=False)
def sixtyfour_masking():
    @task
    def plain() -> int:
        return 41 + 1

    @task
    def sync_hook(answer: int) -> list[str]:
        workflows = [w.id for w in SixtyfourHook().list_workflows()]
        from airflow.providers.common.compat.sdk import redact

        key = SixtyfourHook().settings.api_key
        knows = key not in str(redact(f"a {key} b"))
        logging.getLogger("check").warning("the masker knows the key: %s", knows)
        return workflows

    @task
    def async_hook(names: list[str]) -> int:
        import asyncio

        async def listed() -> int:
            return len(await SixtyfourAsyncHook().list_workflows())

        return asyncio.run(listed())

    async_hook(sync_hook(plain()))


sixtyfour_masking()
"""


def test_registering_the_key_prints_it_nowhere_at_debug_level(airflow_cli: AirflowCli, emulator: Any) -> None:
    airflow_cli.add_dag("sixtyfour_masking.py", DAG_SOURCE)
    env = {
        "AIRFLOW_CONN_SIXTYFOUR_DEFAULT": sixtyfour_connection_uri_json(emulator.base_url),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "DEBUG",
    }
    proc = airflow_cli.dags_test("sixtyfour_masking", extra_env=env)
    output = proc.stdout + airflow_cli.all_logs()
    assert proc.returncode == 0, proc.stdout[-6000:]
    assert TEST_API_KEY not in output
    assert "the masker knows the key: True" in output
    assert emulator.request_count(LIST_WORKFLOWS) >= 2  # both hooks really called the API
