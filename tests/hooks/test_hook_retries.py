"""Retries over real HTTP: Retry-After honoured, rate-limit headers, transport failures, and the
idempotent run start when the answer to ``POST /workflows/run`` is lost."""

from __future__ import annotations

import io
import re
import time

import pytest
from helpers.hooks import FAST_WORKFLOW, AllLogs, HookClient
from helpers.keys import TEST_API_KEY
from helpers.net import free_port

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule
from airflow_provider_sixtyfour.protocol.endpoints import LIST_WORKFLOWS, LIVE_STATUS, RUN_WORKFLOW, UPLOAD_CSV
from airflow_provider_sixtyfour.protocol.errors import SixtyfourTransportError

LEADS = [{"name": "Ada"}]
KINDS = ["sync", "async"]


@pytest.mark.parametrize("kind", KINDS)
def test_retry_after_is_honoured(kind: str, make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=429, retry_after=1, count=1))
    client = make_client(kind, backoff_base=0.01)
    began = time.monotonic()
    workflows = client("list_workflows")
    elapsed = time.monotonic() - began
    print(f"\n{kind}: 429 with Retry-After: 1 then success took {elapsed:.2f} s")
    assert workflows
    assert elapsed >= 0.95  # waited what the API asked, not the 0.01 s backoff
    assert emulator.request_count(LIST_WORKFLOWS) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_server_errors_retried_and_logged(
    kind: str,
    make_client,  # type: ignore[no-untyped-def]
    emulator: EmulatorServer,
    all_logs: AllLogs,
) -> None:
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=503, count=2))
    assert make_client(kind, max_retries=3)("list_workflows")
    assert emulator.request_count(LIST_WORKFLOWS) == 3
    retries = all_logs.lines("answered HTTP 503; retry")
    assert len(retries) == 2
    assert re.search(r"Sixtyfour GET /workflows answered HTTP 503; retry 1 of 3 in \d+\.\d\d s", retries[0])
    assert re.search(r"Sixtyfour GET /workflows answered HTTP 503; retry 2 of 3 in \d+\.\d\d s", retries[1])
    assert all("warning" in line.lower() for line in retries)
    assert TEST_API_KEY not in all_logs.text


@pytest.mark.parametrize("kind", KINDS)
def test_connection_resets_retried(kind: str, make_client, workflows: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    workflows.add_fault(FaultRule(route=LIVE_STATUS, kind="reset", count=2))
    client = make_client(kind)
    started = client("run_workflow", FAST_WORKFLOW, LEADS)
    assert client("get_live_status", started.job_id).job_id == started.job_id
    assert workflows.request_count(LIVE_STATUS) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_connection_resets_exhaust_the_budget(kind: str, make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="reset"))
    with pytest.raises(SixtyfourTransportError) as info:
        make_client(kind, max_retries=2)("list_workflows")
    message = str(info.value)
    assert message.startswith("GET /workflows failed before an answer arrived: ")
    assert message.endswith("(after 3 attempts)")
    assert TEST_API_KEY not in message
    assert emulator.request_count(LIST_WORKFLOWS) == 3


@pytest.mark.parametrize("kind", KINDS)
def test_refused_port(kind: str, make_client, all_logs: AllLogs) -> None:  # type: ignore[no-untyped-def]
    client = make_client(kind, base_url=f"http://127.0.0.1:{free_port()}", max_retries=2)
    with pytest.raises(SixtyfourTransportError, match=r"(?i)refused.*\(after 3 attempts\)"):
        client("list_workflows")
    retries = all_logs.lines("got no answer")
    assert len(retries) == 2
    assert "Sixtyfour GET /workflows got no answer (" in retries[0]
    assert "retry 1 of 2 in" in retries[0]


@pytest.mark.parametrize("kind", KINDS)
def test_slow_answer_times_out(kind: str, make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    emulator.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="delay", seconds=2.5))
    with pytest.raises(SixtyfourTransportError, match=r"(?i)time.?out.*\(after 2 attempts\)"):
        make_client(kind, timeout=1, max_retries=1)("list_workflows")


@pytest.mark.parametrize("kind", KINDS)
def test_lost_run_answer_never_starts_a_second_run(kind: str, make_client, workflows: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    workflows.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1))
    started = make_client(kind)("run_workflow", FAST_WORKFLOW, LEADS)
    assert started.already_started is True
    assert workflows.runs_started() == 1
    assert workflows.request_count(RUN_WORKFLOW) == 2
    assert workflows.get_run(started.job_id) is not None
    assert workflows.stats()["idempotent_replays"] == 1


@pytest.mark.parametrize("kind", KINDS)
def test_upload_is_rewound_for_a_retry(kind: str, make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    # Without the rewind the second try would send an empty file, which the emulator refuses (400).
    emulator.add_fault(FaultRule(route=UPLOAD_CSV, kind="status", status=503, count=1))
    client = make_client(kind)
    handle = client("upload_csv", io.BytesIO(b"name,domain\nAcme,acme.com\n"))
    assert handle
    assert emulator.request_count(UPLOAD_CSV) == 2
    assert emulator.stats()["uploads"] == 1
    started = client("run_workflow", "wf-demo-read-csv", specs_override={"resource_handle_id": handle})
    assert started.job_id


@pytest.mark.parametrize("kind", KINDS)
def test_rate_limit_remaining_paces_requests(kind: str, make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    """With X-RateLimit-Remaining: 0 the next request waits for the window instead of being refused."""
    emulator.set_rate_limit(3, window_seconds=1.0)
    client = make_client(kind)
    began = time.monotonic()
    for _ in range(7):
        assert client("list_workflows")
    print(f"\n{kind}: 7 calls under a limit of 3 per second took {time.monotonic() - began:.2f} s")
    assert emulator.request_count(LIST_WORKFLOWS) == 7
    assert sum(emulator.stats()["rate_limited"].values()) == 0


def test_real_rate_limit_429_is_retried(make_client, emulator: EmulatorServer) -> None:  # type: ignore[no-untyped-def]
    """Two hooks share one key: the second is refused with 429 + Retry-After, waits, and succeeds."""
    emulator.set_rate_limit(2, window_seconds=1.0)
    first = make_client("sync", conn_id="sixtyfour_first")
    second = make_client("sync", conn_id="sixtyfour_second")
    first("list_workflows")
    first("list_workflows")
    assert second("list_workflows")
    assert sum(emulator.stats()["rate_limited"].values()) >= 1
    assert emulator.request_count(LIST_WORKFLOWS) >= 4


def test_default_connection_retries_out_of_the_box(client: HookClient, workflows: EmulatorServer) -> None:
    """The test connection sets only backoff and timeout: the retry budget is the default (5 retries)."""
    workflows.add_fault(FaultRule(route=LIST_WORKFLOWS, kind="status", status=500, count=4))
    assert client("list_workflows")
    assert workflows.request_count(LIST_WORKFLOWS) == 5
