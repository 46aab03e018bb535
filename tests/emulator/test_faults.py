"""Faults on demand: error statuses, resets, slow answers, lost responses, broken downloads."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from airflow_provider_sixtyfour.emulator import STORAGE_ROUTE, EmulatorServer, FaultRule
from airflow_provider_sixtyfour.protocol.endpoints import DOWNLOAD_LINKS, LIST_RUNS, LIVE_STATUS, RUN_WORKFLOW
from emulator.helpers import FAST, SLOW, Api


def test_status_fault_with_retry_after_and_count(api: Api, server: EmulatorServer) -> None:
    server.add_fault(FaultRule(route=LIST_RUNS, kind="status", status=429, retry_after=3, count=2))
    for _ in range(2):
        answer = api.get("/workflows/runs")
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "3"
        assert answer.headers["X-RateLimit-Remaining"] == "0"
        assert answer.json()["error"] == "Too Many Requests"
    assert api.get("/workflows/runs").status_code == 200
    assert server.stats()["faults_fired"] == {"status": 2}


@pytest.mark.parametrize("status", [500, 502, 503, 409])
def test_server_and_conflict_faults(api: Api, server: EmulatorServer, status: int) -> None:
    server.add_fault(FaultRule(route=RUN_WORKFLOW, kind="status", status=status, count=1))
    answer = api.start(FAST)
    assert answer.status_code == status
    if status == 502:
        assert answer.headers["Content-Type"].startswith("text/html")
    else:
        assert isinstance(answer.json()["detail"], str)
    assert server.runs_started() == 0  # the fault answered before any work
    assert api.start(FAST).status_code == 200


def test_fault_only_hits_its_route(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(SLOW)
    server.add_fault(FaultRule(route=LIVE_STATUS, kind="status", status=503))
    assert api.get(f"/workflows/runs/{job_id}/live_status").status_code == 503
    assert api.get("/workflows/runs").status_code == 200
    server.clear_faults()
    assert api.get(f"/workflows/runs/{job_id}/live_status").status_code == 200


def test_wildcard_route_and_method_filter(api: Api, server: EmulatorServer) -> None:
    server.add_fault(FaultRule(route="*", kind="status", status=500, method="GET"))
    assert api.get("/workflows").status_code == 500
    assert api.start(FAST).status_code == 200


def test_reset_drops_the_connection_without_an_answer(api: Api, server: EmulatorServer) -> None:
    server.add_fault(FaultRule(route=LIST_RUNS, kind="reset", count=1))
    with pytest.raises(requests.ConnectionError):
        requests.get(server.base_url + "/workflows/runs", headers=api.headers(), timeout=10)
    assert api.get("/workflows/runs").status_code == 200


def test_delay_slows_the_answer(api: Api, server: EmulatorServer) -> None:
    server.add_fault(FaultRule(route=LIST_RUNS, kind="delay", seconds=2.0, count=1))
    with pytest.raises(requests.ReadTimeout):
        requests.get(server.base_url + "/workflows/runs", headers=api.headers(), timeout=0.5)
    assert api.get("/workflows/runs").status_code == 200


def test_lost_response_after_the_run_was_created(api: Api, server: EmulatorServer) -> None:
    server.add_fault(FaultRule(route=RUN_WORKFLOW, kind="lose_response", count=1))
    with pytest.raises(requests.ConnectionError):
        requests.post(
            server.base_url + "/workflows/run",
            params={"workflow_id": FAST},
            json={"webhook_payload": [{"name": "Ada"}]},
            headers=api.headers({"Idempotency-Key": "lost-1"}),
            timeout=10,
        )
    assert server.runs_started() == 1  # the work was done
    retry = api.start(FAST, [{"name": "Ada"}], key="lost-1")
    assert retry.status_code == 200
    assert retry.json()["already_started"] is True
    assert server.runs_started() == 1
    (record,) = api.get("/workflows/runs").json()
    assert record["job_id"] == retry.json()["job_id"]


def test_rate_draws_are_reproducible_with_a_seed(make_server: Callable[..., EmulatorServer]) -> None:
    def pattern(seed: int) -> list[int]:
        server = make_server(seed=seed)
        server.add_fault(FaultRule(route=LIST_RUNS, kind="status", status=503, rate=0.5))
        api = Api(server.base_url)
        return [api.get("/workflows/runs").status_code for _ in range(40)]

    first, second, other = pattern(7), pattern(7), pattern(8)
    assert first == second
    assert first != other
    assert 5 < first.count(503) < 35


def test_truncated_download(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(FAST, [{"name": f"Lead {i}"} for i in range(200)])
    api.wait_terminal(job_id)
    link = api.links(job_id)[-1]
    server.add_fault(FaultRule(route=STORAGE_ROUTE, kind="truncate", fraction=0.3, count=1))
    with requests.get(link["download_url"], stream=True, timeout=10) as answer:
        assert int(answer.headers["Content-Length"]) == link["file_size"]
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            b"".join(answer.iter_content(4096))
    whole = requests.get(link["download_url"], timeout=10)
    assert len(whole.content) == link["file_size"]


def test_expire_fault_and_filename_glob(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(FAST)
    api.wait_terminal(job_id)
    links = api.links(job_id)
    server.add_fault(FaultRule(route=DOWNLOAD_LINKS, kind="expire", filename="*find_email*"))
    assert requests.get(links[0]["download_url"], timeout=10).status_code == 200
    expired = requests.get(links[-1]["download_url"], timeout=10)
    assert expired.status_code == 403
    assert b"expired" in expired.content


def test_null_download_url_fault(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(FAST)
    api.wait_terminal(job_id)
    server.add_fault(FaultRule(route=DOWNLOAD_LINKS, kind="null_url", filename="block_03_*", count=1))
    links = api.links(job_id)
    assert [link["download_url"] is None for link in links] == [False, False, True]
    assert links[-1]["message"]
    assert all(link["download_url"] for link in api.links(job_id))


def test_slow_download_start(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(FAST)
    api.wait_terminal(job_id)
    url = api.links(job_id)[-1]["download_url"]
    server.add_fault(FaultRule(route=STORAGE_ROUTE, kind="delay", seconds=2.0, count=1))
    with pytest.raises(requests.ReadTimeout):
        requests.get(url, timeout=0.5)
    assert requests.get(url, timeout=10).status_code == 200
    assert server.stats()["faults_fired"] == {"delay": 1}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"route": "/nope", "kind": "status", "status": 500}, "not a route template"),
        ({"route": LIST_RUNS, "kind": "explode"}, "unknown"),
        ({"route": LIST_RUNS, "kind": "status"}, "needs status"),
        ({"route": LIST_RUNS, "kind": "truncate"}, "downloads"),
        ({"route": LIST_RUNS, "kind": "null_url"}, "DOWNLOAD_LINKS"),
        ({"route": LIST_RUNS, "kind": "status", "status": 500, "rate": 2}, "rate"),
    ],
)
def test_fault_rules_are_validated(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultRule(**kwargs)  # type: ignore[arg-type]
