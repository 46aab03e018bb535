"""The emulator's outgoing webhooks, delivered over real HTTP to a local sink (tests/conftest.py)."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from helpers.keys import WEBHOOK_OLD_SECRET, WEBHOOK_SECRET
from helpers.webhooks import Delivery, WebhookSink

from airflow_provider_sixtyfour.emulator import (
    OUTGOING_WEBHOOK_ROUTE,
    EmulatorServer,
    FaultRule,
    WebhookSettings,
    WorkflowSpec,
)
from airflow_provider_sixtyfour.emulator.config import config_from_mapping
from airflow_provider_sixtyfour.webhooks import SixtyfourWebhookError, verify_delivery
from emulator.helpers import Api

HOOKED = "wf-test-hooked"
HOOKED_FAILING = "wf-test-hooked-failing"
HOOKED_SLOW = "wf-test-hooked-slow"
FAST_RETRIES = {"backoff_seconds": 0.05, "max_backoff_seconds": 0.2, "timeout_seconds": 10.0, "max_attempts": 4}

MakeServer = Callable[..., EmulatorServer]


def _server(make_server: MakeServer, sink: WebhookSink, **settings: Any) -> tuple[EmulatorServer, Api]:
    hook = {"url": sink.url}
    workflows = [
        WorkflowSpec(workflow_id=HOOKED, duration_seconds=0.3, queue_seconds=0.05, outgoing_webhook=hook),
        WorkflowSpec(
            workflow_id=HOOKED_FAILING,
            duration_seconds=0.3,
            queue_seconds=0.05,
            outcome="failed",
            error_message="Lead provider timed out",
            outgoing_webhook=hook,
        ),
        WorkflowSpec(workflow_id=HOOKED_SLOW, duration_seconds=600, queue_seconds=0.05, outgoing_webhook=hook),
        WorkflowSpec(workflow_id="wf-test-unhooked", duration_seconds=0.1, queue_seconds=0.0),
    ]
    options = {"signing_secret": WEBHOOK_SECRET, **FAST_RETRIES, **settings}
    server = make_server(workflows=workflows, webhooks=WebhookSettings(**options))
    return server, Api(server.base_url)


def _attempts(server: EmulatorServer, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        attempts = server.webhook_attempts()
        if len(attempts) >= count:
            return attempts
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(attempts)} tries recorded, not {count}: {attempts}")
        time.sleep(0.05)


def _v1_values(delivery: Delivery) -> list[str]:
    return [part[3:] for part in delivery.headers["sixtyfour-signature"].split(",") if part.startswith("v1=")]


def _expected(secret: str, delivery: Delivery) -> str:
    t = delivery.headers["sixtyfour-signature"].split(",")[0].removeprefix("t=")
    return hmac.new(secret.encode(), f"{t}.".encode() + delivery.body, hashlib.sha256).hexdigest()


def test_a_run_that_ends_posts_one_signed_delivery_with_results_and_a_signed_link(
    make_server: MakeServer, webhook_sink: WebhookSink
) -> None:
    server, api = _server(make_server, webhook_sink)
    job_id = api.start_ok(HOOKED, [{"name": "Ada"}, {"name": "Grace"}])
    (delivery,) = webhook_sink.wait_for(1)
    assert delivery.attempt == 1
    assert delivery.headers["sixtyfour-event-type"] == "outgoing_webhook.completed"
    assert _v1_values(delivery) == [_expected(WEBHOOK_SECRET, delivery)]
    envelope = delivery.json()
    assert envelope["event_id"] == delivery.event_id
    assert (envelope["run_id"], envelope["workflow_id"], envelope["status"]) == (job_id, HOOKED, "completed")
    assert envelope["completed_at"]
    assert envelope["error_message"] is None
    assert len(envelope["results"]) == 2
    final = max(api.links(job_id), key=lambda link: link["block_number"])
    assert envelope["results"] == final["results"]
    downloaded = requests.get(envelope["results_download_url"], timeout=30)
    assert downloaded.status_code == 200
    assert downloaded.content == server.file_bytes(job_id, final["filename"])
    parsed = verify_delivery(delivery.body, delivery.headers, WEBHOOK_SECRET)
    assert (parsed.run_id, parsed.attempt, parsed.status) == (job_id, 1, "completed")
    (attempt,) = _attempts(server, 1)
    assert attempt["outcome"] == "200"
    assert attempt["signatures"] == 1


def test_failed_and_cancelled_runs_are_delivered_with_their_status(
    make_server: MakeServer, webhook_sink: WebhookSink
) -> None:
    server, api = _server(make_server, webhook_sink)
    failed = api.start_ok(HOOKED_FAILING)
    cancelled = api.start_ok(HOOKED_SLOW)
    assert api.post("/workflows/cancel", params={"job_id": cancelled}).status_code == 200
    api.start_ok("wf-test-unhooked")
    deliveries = {d.json()["run_id"]: d for d in webhook_sink.wait_for(2)}
    assert deliveries[failed].json()["status"] == "failed"
    assert deliveries[failed].json()["error_message"] == "Lead provider timed out"
    assert deliveries[failed].headers["sixtyfour-event-type"] == "outgoing_webhook.failed"
    assert deliveries[cancelled].json()["status"] == "cancelled"
    assert deliveries[cancelled].json()["results"] is None or isinstance(deliveries[cancelled].json()["results"], list)
    # The workflow without an outgoing_webhook block sent nothing.
    assert {a["workflow_id"] for a in _attempts(server, 2)} == {HOOKED_FAILING, HOOKED_SLOW}


def test_non_2xx_answers_are_retried_with_the_attempt_counted(
    make_server: MakeServer, webhook_sink: WebhookSink
) -> None:
    server, api = _server(make_server, webhook_sink)
    webhook_sink.script = [500, 503]
    api.start_ok(HOOKED)
    deliveries = webhook_sink.wait_for(3)
    assert [d.attempt for d in deliveries] == [1, 2, 3]
    assert len({d.event_id for d in deliveries}) == 1
    assert len({d.body for d in deliveries}) == 1
    for delivery in deliveries:
        assert _v1_values(delivery) == [_expected(WEBHOOK_SECRET, delivery)]
    assert [a["outcome"] for a in _attempts(server, 3)] == ["500", "503", "200"]


def test_a_lost_answer_is_retried(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    server, api = _server(make_server, webhook_sink)
    webhook_sink.script = ["lose"]
    api.start_ok(HOOKED)
    deliveries = webhook_sink.wait_for(2)
    assert [d.attempt for d in deliveries] == [1, 2]
    assert [a["outcome"] for a in _attempts(server, 2)] == ["lost", "200"]


def test_an_unreachable_receiver_is_retried_until_the_tries_run_out(make_server: MakeServer) -> None:
    from helpers.net import free_port

    class Nowhere:
        url = f"http://127.0.0.1:{free_port()}/hooks"

    server, api = _server(make_server, Nowhere(), max_attempts=3)  # type: ignore[arg-type]
    api.start_ok(HOOKED)
    attempts = _attempts(server, 3)
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "lost"), (2, "lost"), (3, "lost")]


def test_rotation_overlap_signs_with_both_secrets_new_first(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    _, api = _server(
        make_server, webhook_sink, previous_signing_secret=WEBHOOK_OLD_SECRET, rotation_overlap_seconds=3600
    )
    api.start_ok(HOOKED)
    (delivery,) = webhook_sink.wait_for(1)
    assert _v1_values(delivery) == [_expected(WEBHOOK_SECRET, delivery), _expected(WEBHOOK_OLD_SECRET, delivery)]
    # A receiver that still holds only the old secret accepts it.
    assert verify_delivery(delivery.body, delivery.headers, WEBHOOK_OLD_SECRET).event_id == delivery.event_id


def test_a_zero_overlap_cuts_over_at_once(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    _, api = _server(make_server, webhook_sink, previous_signing_secret=WEBHOOK_OLD_SECRET, rotation_overlap_seconds=0)
    api.start_ok(HOOKED)
    (delivery,) = webhook_sink.wait_for(1)
    assert _v1_values(delivery) == [_expected(WEBHOOK_SECRET, delivery)]
    with pytest.raises(SixtyfourWebhookError, match="no_match"):
        verify_delivery(delivery.body, delivery.headers, WEBHOOK_OLD_SECRET)


def test_rotating_at_runtime_signs_with_the_new_and_the_old_secret(
    make_server: MakeServer, webhook_sink: WebhookSink
) -> None:
    server, api = _server(make_server, webhook_sink, signing_secret=WEBHOOK_OLD_SECRET)
    server.rotate_webhook_secret(WEBHOOK_SECRET, overlap_seconds=3600)
    api.start_ok(HOOKED)
    (delivery,) = webhook_sink.wait_for(1)
    assert _v1_values(delivery) == [_expected(WEBHOOK_SECRET, delivery), _expected(WEBHOOK_OLD_SECRET, delivery)]


def test_without_a_signing_secret_deliveries_are_unsigned(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    _, api = _server(make_server, webhook_sink, signing_secret=None)
    api.start_ok(HOOKED)
    (delivery,) = webhook_sink.wait_for(1)
    assert "sixtyfour-signature" not in delivery.headers
    with pytest.raises(SixtyfourWebhookError, match="missing_header"):
        verify_delivery(delivery.body, delivery.headers, WEBHOOK_SECRET)
    assert verify_delivery(delivery.body, delivery.headers, (), allow_unsigned=True).attempt == 1


def test_drop_fault_loses_a_try_which_is_retried(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    server, api = _server(make_server, webhook_sink)
    server.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="drop", count=1))
    api.start_ok(HOOKED)
    (delivery,) = webhook_sink.wait_for(1)
    assert delivery.attempt == 2
    assert [a["outcome"] for a in _attempts(server, 2)] == ["dropped", "200"]
    assert server.stats()["faults_fired"]["drop"] == 1


def test_duplicate_fault_sends_the_same_try_twice(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    server, api = _server(make_server, webhook_sink)
    server.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="duplicate", count=1))
    api.start_ok(HOOKED)
    first, second = webhook_sink.wait_for(2)
    assert (first.event_id, first.attempt, first.body) == (second.event_id, second.attempt, second.body)
    (attempt,) = _attempts(server, 1)
    assert attempt["copies"] == 2


def test_delay_fault_holds_a_try_then_sends_it(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    server, api = _server(make_server, webhook_sink)
    server.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="delay", seconds=0.3, count=1))
    api.start_ok(HOOKED)
    (delivery,) = webhook_sink.wait_for(1)
    assert delivery.attempt == 1
    assert server.stats()["faults_fired"]["delay"] == 1


def test_reorder_fault_lets_a_later_delivery_overtake(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    server, api = _server(make_server, webhook_sink)
    server.add_fault(FaultRule(route=OUTGOING_WEBHOOK_ROUTE, kind="reorder", seconds=60, count=1))
    first = api.start_ok(HOOKED)
    api.wait_terminal(first)
    second = api.start_ok(HOOKED)
    deliveries = webhook_sink.wait_for(2)
    assert [d.json()["run_id"] for d in deliveries] == [second, first]


def test_api_faults_do_not_touch_deliveries(make_server: MakeServer, webhook_sink: WebhookSink) -> None:
    server, api = _server(make_server, webhook_sink)
    api.start_ok(HOOKED)
    server.add_fault(FaultRule(route="*", kind="status", status=503))
    (delivery,) = webhook_sink.wait_for(1)
    assert delivery.attempt == 1


def test_config_reads_the_webhooks_block_and_outgoing_webhook() -> None:
    kwargs = config_from_mapping(
        {
            "include_default_workflows": False,
            "workflows": [{"workflow_id": "wf-x", "outgoing_webhook": {"url": "https://hooks.example/in"}}],
            "webhooks": {"signing_secret": WEBHOOK_SECRET, "max_attempts": 2},
            "faults": [{"route": OUTGOING_WEBHOOK_ROUTE, "kind": "duplicate"}],
        }
    )
    (spec,) = kwargs["workflows"]
    assert spec.outgoing_webhook.url == "https://hooks.example/in"
    assert spec.to_dict()["outgoing_webhook"] == {"url": "https://hooks.example/in"}
    assert kwargs["webhooks"].max_attempts == 2
    assert WEBHOOK_SECRET not in repr(kwargs["webhooks"])


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"workflows": [{"workflow_id": "wf-x", "outgoing_webhook": {"url": "ftp://x"}}]}, "http:// or https://"),
        ({"workflows": [{"workflow_id": "wf-x", "outgoing_webhook": {}}]}, "needs a url"),
        ({"workflows": [{"workflow_id": "wf-x", "outgoing_webhook": {"url": "http://x", "to": 1}}]}, "unknown"),
        ({"webhooks": {"signing_secret": ""}}, "non-empty"),
        ({"webhooks": {"previous_signing_secret": WEBHOOK_OLD_SECRET}}, "needs a signing_secret"),
        ({"webhooks": {"rotation_overlap_seconds": 72 * 3600 + 1}}, "72 h"),
        ({"webhooks": {"max_attempts": 0}}, ">= 1"),
        ({"webhooks": {"retries": 3}}, "unknown webhooks setting"),
        ({"faults": [{"route": OUTGOING_WEBHOOK_ROUTE, "kind": "status", "status": 500}]}, "takes the kinds"),
        ({"faults": [{"route": "*", "kind": "drop"}]}, "takes the kinds"),
        ({"faults": [{"route": OUTGOING_WEBHOOK_ROUTE, "kind": "reorder"}]}, "seconds"),
    ],
)
def test_bad_webhook_config_is_an_error_that_says_what_is_wrong(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        config_from_mapping(data)
