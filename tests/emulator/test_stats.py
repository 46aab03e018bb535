"""Counters per route template and per key fingerprint, exposed read-only at ``/_emulator/stats``."""

from __future__ import annotations

import json
import uuid

import requests
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import STORAGE_ROUTE, EmulatorServer
from airflow_provider_sixtyfour.protocol.endpoints import CANCEL_RUN, LIST_RUNS, LIVE_STATUS, RUN_WORKFLOW
from emulator.helpers import FAST, SLOW, Api


def test_requests_are_counted_per_route_template_and_key(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(FAST)
    slow = api.start_ok(SLOW)
    for _ in range(3):
        api.live(job_id)
    api.live(slow)
    api.get("/workflows/runs")
    api.post("/workflows/cancel", params={"job_id": slow})
    Api(server.base_url, api_key="wrong").get("/workflows/runs")
    Api(server.base_url, api_key=None).get("/workflows/runs")
    api.wait_terminal(job_id)
    requests.get(api.links(job_id)[0]["download_url"], timeout=30)

    label = server.key_label(TEST_API_KEY)
    stats = server.stats()
    requests_by_route = stats["requests"]
    assert requests_by_route[RUN_WORKFLOW] == {label: 2}
    assert requests_by_route[LIVE_STATUS][label] >= 5
    assert requests_by_route[LIST_RUNS] == {label: 1, "invalid-key": 1, "no-key": 1}
    assert requests_by_route[CANCEL_RUN] == {label: 1}
    assert requests_by_route[STORAGE_ROUTE] == {"signed-url": 1}
    assert stats["runs_started"] == 2
    assert stats["cancel_requests"] == 1
    assert stats["downloads_completed"] == 1
    assert stats["bytes_served"] > 0
    assert server.request_count(LIVE_STATUS, TEST_API_KEY) == requests_by_route[LIVE_STATUS][label]
    assert server.request_count() == stats["requests_total"]


def test_stats_route_is_read_only_and_never_shows_the_key(api: Api, server: EmulatorServer) -> None:
    api.start_ok(FAST, [{"name": "Ada"}])
    answer = requests.get(server.base_url + "/_emulator/stats", timeout=30)
    assert answer.status_code == 200
    assert answer.json()["runs_started"] == 1
    assert TEST_API_KEY not in answer.text
    assert TEST_API_KEY not in json.dumps(server.stats())
    assert TEST_API_KEY not in repr(server)
    snapshot = server.get_run(api.start_ok(FAST))
    assert TEST_API_KEY not in json.dumps(snapshot)
    for method in ("post", "put", "delete"):
        assert getattr(requests, method)(server.base_url + "/_emulator/stats", timeout=30).status_code in (404, 405)
    assert server.get_run(str(uuid.uuid4())) is None


def test_reset_forgets_runs_and_counters(api: Api, server: EmulatorServer) -> None:
    job_id = api.start_ok(SLOW)
    server.reset()
    assert server.runs_started() == 0
    assert server.stats()["requests"] == {}
    assert api.get(f"/workflows/runs/{job_id}/live_status").status_code == 404
    assert api.start(FAST).status_code == 200  # workflows stay
