"""The real per-key rate limit (sliding window) and its headers."""

from __future__ import annotations

import time
from collections.abc import Callable

from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer
from airflow_provider_sixtyfour.emulator.ratelimit import SlidingWindowLimiter
from emulator.helpers import Api


def test_headers_on_every_api_answer(api: Api) -> None:
    first = api.get("/workflows")
    second = api.get("/workflows/wf-nope")  # errors carry them too
    assert first.headers["X-RateLimit-Limit"] == "500"
    assert first.headers["X-RateLimit-Remaining"] == "499"
    assert second.status_code == 404
    assert second.headers["X-RateLimit-Remaining"] == "498"
    assert 0 < int(second.headers["X-RateLimit-Reset"]) <= 60


def test_limit_refuses_with_retry_after_then_recovers(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(rate_limit_per_minute=5, rate_limit_window_seconds=1.0)
    api = Api(server.base_url)
    answers = [api.get("/workflows/runs") for _ in range(7)]
    assert [a.status_code for a in answers] == [200] * 5 + [429] * 2
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0", "0", "0"]
    refused = answers[-1]
    assert refused.json() == {"error": "Too Many Requests", "message": "Rate limit of 5 requests exceeded"}
    assert refused.headers["Retry-After"] == "1"
    time.sleep(1.1)
    assert api.get("/workflows/runs").status_code == 200
    stats = server.stats()
    assert stats["rate_limited"] == {server.key_label(TEST_API_KEY): 2}
    assert server.request_count("/workflows/runs") == 8


def test_limit_is_per_key(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(api_keys=[TEST_API_KEY, "other-key"], rate_limit_per_minute=2)
    mine, other = Api(server.base_url), Api(server.base_url, api_key="other-key")
    assert [mine.get("/workflows").status_code for _ in range(3)] == [200, 200, 429]
    assert other.get("/workflows").status_code == 200


def test_limit_can_be_switched_off_and_on(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(rate_limit_per_minute=None)
    api = Api(server.base_url)
    answer = api.get("/workflows")
    assert "X-RateLimit-Limit" not in answer.headers
    assert all(api.get("/workflows").status_code == 200 for _ in range(30))
    server.set_rate_limit(3)
    assert [api.get("/workflows").status_code for _ in range(4)] == [200, 200, 200, 429]
    server.set_rate_limit(None)
    assert api.get("/workflows").status_code == 200


def test_refused_requests_do_not_use_up_the_window() -> None:
    limiter = SlidingWindowLimiter(2, window_seconds=10)
    assert limiter.check("k", 0.0).allowed
    assert limiter.check("k", 1.0).allowed
    refused = limiter.check("k", 2.0)
    assert not refused.allowed
    assert refused.retry_after == 8.0
    assert not limiter.check("k", 9.0).allowed
    assert limiter.check("k", 10.0).allowed  # the first request left the window
    assert not limiter.check("k", 10.5).allowed
    assert limiter.check("k", 11.0).allowed
