"""``SixtyfourCancelRunOperator.execute`` against the emulator over real HTTP."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from dags.support import ROWS, FakeTaskInstance, task_context, wait_for
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourCancelRunOperator
from airflow_provider_sixtyfour.protocol.endpoints import CANCEL_RUN, LIVE_STATUS
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, SixtyfourNotFoundError

SLOW = "wf-demo-slow"
FAST = "wf-demo-webhook"


def start(workflow_id: str) -> str:
    with SixtyfourHook() as hook:
        return hook.run_workflow(workflow_id, ROWS).job_id


def cancel(job_id: str, **kwargs: object) -> str:
    op = SixtyfourCancelRunOperator(task_id="cancel", job_id=job_id, poll_interval=0.1, **kwargs)
    return op.execute(task_context(FakeTaskInstance(task_id="cancel")))


def test_cancels_a_running_run_and_waits_until_it_stopped(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    job_id = start(SLOW)
    assert cancel(job_id) == "cancelled"
    assert emulator.cancel_requests(job_id) == 1
    assert emulator.get_run(job_id)["status"] in ("cancelled", "canceled")


def test_not_waiting_returns_the_cancel_answer(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    job_id = start(SLOW)
    assert cancel(job_id, wait_for_termination=False) in ("cancelled", "running", "queued")
    assert emulator.cancel_requests(job_id) == 1


def test_cancelling_a_finished_run_is_a_logged_no_op(
    emulator: EmulatorServer, sixtyfour_conn: str, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    job_id = start(FAST)
    with SixtyfourHook() as hook:
        while not hook.get_live_status(job_id).status.is_terminal:
            time.sleep(0.2)

    assert cancel(job_id) == "completed"
    assert emulator.cancel_requests(job_id) == 0
    out, err = capfd.readouterr()
    assert "nothing to cancel" in caplog.text + out + err
    assert TEST_API_KEY not in caplog.text + out + err


@pytest.fixture
def sticky_emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[EmulatorServer]:
    """An emulator where a cancel takes a minute to take effect."""
    with EmulatorServer(api_keys=[TEST_API_KEY], cancel_delay_seconds=60) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_DEFAULT", sixtyfour_connection_uri_json(server.base_url))
        yield server


def test_a_run_that_will_not_stop_fails_after_the_timeout(sticky_emulator: EmulatorServer) -> None:
    job_id = start(SLOW)
    with pytest.raises(AirflowException, match="still running"):
        cancel(job_id, timeout=1)
    assert sticky_emulator.cancel_requests(job_id) == 1


def test_a_bad_job_id_fails_before_any_request(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    with pytest.raises(AirflowFailException, match="job_id"):
        cancel("not-a-run-id")
    assert emulator.request_count(CANCEL_RUN) == 0


def test_an_unknown_run_fails_clearly_without_retries(emulator: EmulatorServer, sixtyfour_conn: str) -> None:
    with pytest.raises(AirflowFailException, match="HTTP 404") as raised:
        cancel(str(uuid.uuid4()))
    assert isinstance(raised.value.__cause__, SixtyfourNotFoundError)
    assert emulator.request_count(CANCEL_RUN) == 0


def test_job_id_is_templated_and_timeout_is_checked_at_parse_time() -> None:
    assert SixtyfourCancelRunOperator.template_fields == ("job_id",)
    with pytest.raises(ValueError, match="timeout"):
        SixtyfourCancelRunOperator(task_id="c", job_id="x", timeout=0)


# -- the hook's own waits end with the timeout and on_kill (issue 11 item 2) ------------------------

HANG_GUARD = 60.0


@pytest.fixture
def throttled_status(emulator: EmulatorServer, sixtyfour_conn: str) -> EmulatorServer:
    """Every status read is refused with 429 and a Retry-After of 100 s (within max_wait, so honoured)."""
    emulator.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=429, retry_after=100))
    return emulator


@pytest.mark.timeout(HANG_GUARD)
def test_the_timeout_ends_a_told_wait(throttled_status: EmulatorServer) -> None:
    job_id = start(SLOW)
    op = SixtyfourCancelRunOperator(task_id="cancel", job_id=job_id, poll_interval=0.1, timeout=3)
    began = time.monotonic()
    with pytest.raises(SixtyfourError, match="would pass the task's deadline"):
        op.execute(task_context(FakeTaskInstance(task_id="cancel")))
    assert time.monotonic() - began < 30  # the 100 s wait was never sat out
    assert throttled_status.request_count(LIVE_STATUS) == 1


@pytest.mark.timeout(HANG_GUARD)
def test_on_kill_ends_a_told_wait(throttled_status: EmulatorServer) -> None:
    job_id = start(SLOW)
    op = SixtyfourCancelRunOperator(task_id="cancel", job_id=job_id, poll_interval=0.1)

    def kill_while_waiting() -> None:  # as Airflow would, from another thread
        wait_for(lambda: throttled_status.request_count(LIVE_STATUS) >= 1, HANG_GUARD)
        time.sleep(0.2)
        op.on_kill()

    killer = threading.Thread(target=kill_while_waiting, daemon=True)
    killer.start()
    with pytest.raises(SixtyfourError, match="the task is being stopped"):
        op.execute(task_context(FakeTaskInstance(task_id="cancel")))
    killer.join(HANG_GUARD)
    assert throttled_status.request_count(LIVE_STATUS) == 1
