"""The receiver over real HTTP: deliveries in, asset events out to a fake Airflow API (tests/webhooks/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.keys import WEBHOOK_OLD_SECRET, WEBHOOK_SECRET
from helpers.net import free_port
from helpers.receiver import FakeAirflow, StartReceiver, signed

from airflow_provider_sixtyfour.webhooks.receiver.logs import JsonFormatter

WORKFLOW = "wf-test-hooked"
SIGNED_URL = "http://127.0.0.1:1/_storage/b/j/f.csv?expires=1780000900000&signature=" + "cd" * 32


def _envelope(run_id: str | None = None, event_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id or f"evt_{uuid.uuid4().hex}",
        "run_id": run_id or str(uuid.uuid4()),
        "workflow_id": WORKFLOW,
        "status": "completed",
        "completed_at": "2026-12-01T21:00:00.000000Z",
        "error_message": None,
        "results": [{"email": "a@example.com"}],
        "results_download_url": SIGNED_URL,
        **extra,
    }


async def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(url, data=body, headers=headers) as answer:
        return answer.status, await answer.json()


async def _deliver(url: str, envelope: dict[str, Any], **kwargs: Any) -> tuple[int, dict[str, Any]]:
    body, headers = signed(envelope, **kwargs)
    return await _post(url, body, headers)


async def test_an_accepted_event_answers_2xx_with_one_asset_event(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    envelope = _envelope()
    status, answer = await _deliver(url, envelope)
    assert (status, answer["result"]) == (200, "accepted")
    (event,) = fake_airflow.events
    assert answer["asset_event_id"] == event["id"]
    assert fake_airflow.assets[event["asset_id"]] == f"sixtyfour://workflows/{WORKFLOW}"
    extra = event["extra"]
    assert (extra["run_id"], extra["job_id"], extra["workflow_id"], extra["status"]) == (
        envelope["run_id"],
        envelope["run_id"],
        WORKFLOW,
        "completed",
    )
    assert extra["event_id"] == envelope["event_id"]
    assert extra["source"] == "sixtyfour-webhook-receiver"
    # No signed URL and no results in what Airflow stores.
    assert "signature=" not in json.dumps(extra)
    assert "results" not in extra
    assert fake_airflow.logins == 1


async def test_airflow_down_answers_non_2xx_and_the_retry_is_accepted(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    envelope = _envelope()
    fake_airflow.down = True
    status, answer = await _deliver(url, envelope)
    assert (status, answer["error"]) == (503, "airflow_unavailable")
    fake_airflow.down = False
    fake_airflow.fail_events = 1
    status, answer = await _deliver(url, envelope, attempt=2)
    assert (status, answer["error"]) == (503, "airflow_unavailable")
    status, answer = await _deliver(url, envelope, attempt=3)
    assert (status, answer["result"]) == (200, "accepted")
    assert len(fake_airflow.events) == 1


async def test_airflow_not_listening_answers_503(start_receiver: StartReceiver) -> None:
    url = await start_receiver(airflow_url=f"http://127.0.0.1:{free_port()}")
    status, answer = await _deliver(url, _envelope())
    assert (status, answer["error"]) == (503, "airflow_unavailable")


async def test_duplicates_by_event_id_and_by_run_answer_2xx_without_a_second_event(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    envelope = _envelope()
    assert (await _deliver(url, envelope))[0] == 200
    status, answer = await _deliver(url, envelope, attempt=2)
    assert (status, answer) == (200, {"result": "duplicate", "by": "event_id"})
    again = {**envelope, "event_id": f"evt_{uuid.uuid4().hex}"}
    status, answer = await _deliver(url, again)
    assert (status, answer) == (200, {"result": "duplicate", "by": "run_id"})
    assert len(fake_airflow.events) == 1


async def test_concurrent_copies_of_one_delivery_make_one_event(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    fake_airflow.slow = 0.2  # the copies overlap while the first one waits for Airflow
    body, headers = signed(_envelope())
    answers = await asyncio.gather(*(_post(url, body, headers) for _ in range(5)))
    assert sorted(a["result"] for _, a in answers) == ["accepted"] + ["duplicate"] * 4
    assert {status for status, _ in answers} == {200}
    assert len(fake_airflow.events) == 1


async def test_a_restarted_receiver_keeps_dropping_duplicates(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    envelope = _envelope()
    first = await start_receiver()
    assert (await _deliver(first, envelope))[1]["result"] == "accepted"
    await start_receiver.stop_all()  # type: ignore[attr-defined]
    second = await start_receiver()
    assert second != first
    assert (await _deliver(second, envelope, attempt=2))[1] == {"result": "duplicate", "by": "event_id"}
    assert (await _deliver(second, {**envelope, "event_id": "evt_other"}))[1]["by"] == "run_id"
    assert len(fake_airflow.events) == 1


async def test_a_receiver_holding_two_secrets_takes_deliveries_signed_with_either(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver(secrets=(WEBHOOK_SECRET, WEBHOOK_OLD_SECRET))
    assert (await _deliver(url, _envelope(), secret=WEBHOOK_OLD_SECRET))[0] == 200
    assert (await _deliver(url, _envelope(), secret=WEBHOOK_SECRET))[0] == 200
    assert len(fake_airflow.events) == 2


@pytest.mark.parametrize(
    ("tamper", "status", "reason"),
    [
        (lambda body, headers: (body.replace(b"completed", b"failed!!!"), headers), 401, "no_match"),
        (lambda body, headers: (body, {**headers, "Sixtyfour-Signature": "t=1,v1=zz"}), 400, "malformed"),
        (
            lambda body, headers: (body, {k: v for k, v in headers.items() if k != "Sixtyfour-Signature"}),
            401,
            "missing_header",
        ),
    ],
)
async def test_deliveries_that_fail_verification_are_refused_without_an_event(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow, tamper: Any, status: int, reason: str
) -> None:
    url = await start_receiver()
    body, headers = tamper(*signed(_envelope()))
    assert await _post(url, body, headers) == (status, {"error": reason})
    assert fake_airflow.events == []


async def test_a_wrong_secret_is_refused(start_receiver: StartReceiver, fake_airflow: FakeAirflow) -> None:
    url = await start_receiver()
    assert await _deliver(url, _envelope(), secret="sk_whsec_an-attackers-guess-0000") == (401, {"error": "no_match"})
    assert fake_airflow.events == []


async def test_airflow_slower_than_the_deadline_answers_503(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver(deadline=0.3)
    fake_airflow.slow = 1.5
    envelope = _envelope()
    assert await _deliver(url, envelope) == (503, {"error": "deadline"})
    # Airflow takes the event late; the receiver still records it, so Sixtyfour's retry makes no second one.
    fake_airflow.slow = 0.0
    while not fake_airflow.events:
        await asyncio.sleep(0.05)
    assert await _deliver(url, envelope, attempt=2) == (200, {"result": "duplicate", "by": "event_id"})
    assert len(fake_airflow.events) == 1


async def test_statuses_outside_the_setting_are_acknowledged_without_an_event(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow, tmp_path: Path
) -> None:
    url = await start_receiver()
    status, answer = await _deliver(url, _envelope(status="failed", error_message="Provider down"))
    assert (status, answer) == (200, {"result": "ignored", "status": "failed"})
    assert fake_airflow.events == []
    both = await start_receiver(statuses=frozenset({"completed", "failed"}), store_path=tmp_path / "other.sqlite3")
    assert (await _deliver(both, _envelope(status="failed")))[1]["result"] == "accepted"
    assert fake_airflow.events[0]["extra"]["status"] == "failed"


async def test_a_workflow_no_dag_schedules_on_answers_non_2xx(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    status, answer = await _deliver(url, _envelope(workflow_id="wf-nobody-listens"))
    assert (status, answer["error"]) == (503, "airflow_unknown_asset")
    # A prefix of a known URI is not a match either (uri_pattern is a substring search).
    status, answer = await _deliver(url, _envelope(workflow_id="wf-test"))
    assert answer["error"] == "airflow_unknown_asset"
    assert fake_airflow.events == []


async def test_a_workflow_id_that_is_no_workflow_id_answers_422_without_an_event(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    status, answer = await _deliver(url, _envelope(workflow_id="wf-test/../other"))
    assert (status, answer["error"]) == (422, "bad_workflow_id")
    assert fake_airflow.events == []


async def test_refused_credentials_answer_non_2xx(start_receiver: StartReceiver, fake_airflow: FakeAirflow) -> None:
    url = await start_receiver(airflow_password="not-the-password-123456")
    assert await _deliver(url, _envelope()) == (503, {"error": "airflow_auth"})
    assert fake_airflow.events == []


async def test_an_expired_token_is_renewed_once(start_receiver: StartReceiver, fake_airflow: FakeAirflow) -> None:
    url = await start_receiver()
    fake_airflow.expire_after = 2  # the asset lookup and one event post
    assert (await _deliver(url, _envelope()))[0] == 200
    assert (await _deliver(url, _envelope()))[0] == 200
    assert fake_airflow.logins == 2
    assert len(fake_airflow.events) == 2


async def test_health(start_receiver: StartReceiver) -> None:
    url = await start_receiver()
    base = url.rsplit("/sixtyfour/webhook", 1)[0]
    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as answer:
        assert (answer.status, await answer.json()) == (200, {"status": "ok"})


async def test_logs_are_json_lines_with_the_delivery_ids_and_no_secret(
    start_receiver: StartReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    url = await start_receiver()
    envelope = _envelope()
    with caplog.at_level(logging.INFO, logger="airflow_provider_sixtyfour.webhooks.receiver"):
        await _deliver(url, envelope)
        await _deliver(url, envelope, secret="sk_whsec_an-attackers-guess-0000")
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.name.endswith("receiver")]
    accepted = next(line for line in lines if line.get("outcome") == "accepted")
    assert (accepted["event_id"], accepted["run_id"], accepted["workflow_id"]) == (
        envelope["event_id"],
        envelope["run_id"],
        WORKFLOW,
    )
    refused = next(line for line in lines if line.get("outcome") == "refused")
    assert refused["reason"] == "no_match"
    text = caplog.text + json.dumps(lines)
    assert WEBHOOK_SECRET not in text
    assert "signature=" not in text


async def test_an_asset_made_again_under_a_new_id_is_looked_up_again(
    start_receiver: StartReceiver, fake_airflow: FakeAirflow
) -> None:
    url = await start_receiver()
    assert (await _deliver(url, _envelope()))[0] == 200
    uri = fake_airflow.assets.pop(1)
    fake_airflow.assets[7] = uri  # the DAG was removed and deployed again
    status, answer = await _deliver(url, _envelope())
    assert (status, answer["result"]) == (200, "accepted")
    assert [e["asset_id"] for e in fake_airflow.events] == [1, 7]
