"""The API key never reaches a log line, an exception, a repr; and Airflow's masker knows it."""

from __future__ import annotations

import io
import logging
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.hooks import FAST_WORKFLOW, AllLogs, HookClient, wait_for
from helpers.keys import TEST_API_KEY
from helpers.net import free_port

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.protocol.endpoints import LIST_WORKFLOWS, LIVE_STATUS, RUN_WORKFLOW
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError

WRONG_KEY = "sk-wrong-key-for-the-audit-5555555555"


def _masker_and_switch(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Airflow's secrets masker with log masking switched on, as it is while a task runs."""
    try:
        from airflow.sdk._shared.secrets_masker import secrets_masker as module
    except ImportError:  # Airflow 2
        import airflow.settings
        from airflow.utils.log import secrets_masker as module  # type: ignore[no-redef]

        monkeypatch.setattr(airflow.settings, "MASK_SECRETS_IN_LOGS", True)
        return module._secrets_masker()
    monkeypatch.setattr(module.SecretsMasker, "mask_secrets_in_logs", True)
    return module._secrets_masker()


@pytest.fixture
def active_masker(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> Iterator[Any]:
    masker = _masker_and_switch(monkeypatch)
    caplog.handler.addFilter(masker)
    try:
        yield masker
    finally:
        caplog.handler.removeFilter(masker)


def _everything(client: HookClient, emulator: EmulatorServer) -> list[BaseException]:
    """Exercise every method, with retries, lost answers and failures; return the errors raised."""
    errors: list[BaseException] = []
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=503, count=1))
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="reset", count=1))
    emulator.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1))
    assert client("test_connection")[0]
    started = client("run_workflow", FAST_WORKFLOW, [{"name": "Ada"}], save_json=True)
    wait_for(lambda: client("get_live_status", started.job_id).status.is_terminal, "the run to finish")
    client("list_runs", status="completed")
    links = client("get_download_links", started.job_id)
    assert links
    client("upload_csv", io.BytesIO(b"name\nAda\n"))
    client("get_workflow", FAST_WORKFLOW)
    client("cancel_run", started.job_id)
    client("run_url", started.job_id)
    for bad in (lambda: client("get_workflow", "wf-missing"), lambda: client("run_workflow", "wf-demo-expensive")):
        try:
            bad()
        except SixtyfourError as err:
            errors.append(err)
    return errors


def _assert_clean(text: str) -> None:
    assert TEST_API_KEY not in text
    assert WRONG_KEY not in text


def test_key_absent_from_all_logs_and_errors(
    client: HookClient, workflows: EmulatorServer, all_logs: AllLogs, active_masker: Any
) -> None:
    errors = _everything(client, workflows)
    assert len(errors) == 2
    for err in errors:
        _assert_clean("".join(traceback.format_exception(err)))
        _assert_clean(repr(err))
    text = all_logs.text
    assert "retry" in text  # the retries really happened and were logged
    _assert_clean(text)
    _assert_clean(repr(client.hook))
    _assert_clean(repr(client.hook.settings))
    _assert_clean(str(vars(client.hook)))


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_wrong_key_and_transport_errors_do_not_leak(kind: str, make_client, all_logs: AllLogs) -> None:  # type: ignore[no-untyped-def]
    for client in (
        make_client(kind, api_key=WRONG_KEY, conn_id="sixtyfour_wrong"),
        make_client(kind, base_url=f"http://127.0.0.1:{free_port()}", max_retries=1, conn_id="sixtyfour_nowhere"),
    ):
        with pytest.raises(SixtyfourError) as info:
            client("list_workflows")
        _assert_clean("".join(traceback.format_exception(info.value)))
        ok, message = client("test_connection")
        assert not ok
        _assert_clean(message)
    _assert_clean(all_logs.text)


@pytest.mark.secret_audit_exempt(reason="logs the key on purpose to prove the masker hides it", sources=("logs",))
def test_airflows_masker_hides_the_key_once_the_hook_read_it(
    client: HookClient, all_logs: AllLogs, active_masker: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client("list_workflows")
    # A careless log line elsewhere (a user's callback, a library) is still masked.
    logging.getLogger("tests.careless").warning("the key is %s", TEST_API_KEY)
    careless = [r for r in caplog.records if r.name == "tests.careless"]
    assert careless
    assert TEST_API_KEY not in careless[0].getMessage()
    assert "***" in careless[0].getMessage()
