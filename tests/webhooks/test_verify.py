"""verify_delivery against vectors computed here with hmac (not with the code under test)."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from typing import Any

import pytest

from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, SixtyfourInputError
from airflow_provider_sixtyfour.webhooks import SixtyfourWebhookError, WebhookDelivery, verify_delivery

NEW_SECRET = "sk_whsec_new-0123456789abcdef"
OLD_SECRET = "sk_whsec_old-fedcba9876543210"
NOW = 1_780_000_000
RUN_ID = "7b0c6a52-3f1e-4d7a-9a51-2b7e0f1c9d11"
SIGNED_URL = "https://storage.example/b/out.csv?expires=1780000900000&signature=" + "ab" * 32


def _hex(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _body(**extra: Any) -> bytes:
    envelope = {
        "event_id": "evt_1",
        "run_id": RUN_ID,
        "workflow_id": "wf-leads",
        "status": "completed",
        "results": [{"email": "a@example.com"}],
        "results_download_url": SIGNED_URL,
        **extra,
    }
    return json.dumps(envelope).encode()


def _headers(body: bytes, *secrets: str, t: int = NOW, **extra: str) -> dict[str, str]:
    signature = ",".join([f"t={t}", *(f"v1={_hex(s, t, body)}" for s in secrets)])
    return {
        "Sixtyfour-Signature": signature,
        "Sixtyfour-Event-Id": "evt_1",
        "Sixtyfour-Event-Type": "outgoing_webhook.completed",
        "Sixtyfour-Delivery-Attempt": "2",
        **extra,
    }


def _refused(body: bytes, headers: dict[str, str], secrets: Any = NEW_SECRET, **kwargs: Any) -> SixtyfourWebhookError:
    with pytest.raises(SixtyfourWebhookError) as info:
        verify_delivery(body, headers, secrets, now=NOW, **kwargs)
    message = str(info.value)
    for secret in (NEW_SECRET, OLD_SECRET):
        assert secret not in message
        assert _hex(secret, NOW, body) not in message
    return info.value


def test_a_valid_delivery_is_read() -> None:
    body = _body()
    delivery = verify_delivery(body, _headers(body, NEW_SECRET), NEW_SECRET, now=NOW)
    assert isinstance(delivery, WebhookDelivery)
    assert (delivery.event_id, delivery.event_type, delivery.attempt) == ("evt_1", "outgoing_webhook.completed", 2)
    assert (delivery.run_id, delivery.job_id, delivery.workflow_id, delivery.status) == (
        RUN_ID,
        RUN_ID,
        "wf-leads",
        "completed",
    )
    assert delivery.envelope["results"] == [{"email": "a@example.com"}]
    assert delivery.results_download_url == SIGNED_URL
    assert delivery.signed
    assert delivery.signed_at == NOW
    # The signed URL is a credential: not in repr, not in the summary.
    assert "signature=" not in repr(delivery)
    assert "signature=" not in json.dumps(delivery.summary())


def test_header_names_are_matched_whatever_their_case() -> None:
    body = _body()
    headers = {k.lower(): v for k, v in _headers(body, NEW_SECRET).items()}
    headers["SIXTYFOUR-SIGNATURE"] = headers.pop("sixtyfour-signature")
    assert verify_delivery(body, headers, [NEW_SECRET], now=NOW).event_id == "evt_1"


@pytest.mark.parametrize("configured", [[NEW_SECRET], [OLD_SECRET], [OLD_SECRET, NEW_SECRET]])
def test_rotation_two_v1_values_any_match_passes(configured: list[str]) -> None:
    body = _body()
    headers = _headers(body, NEW_SECRET, OLD_SECRET)
    assert headers["Sixtyfour-Signature"].count("v1=") == 2
    assert verify_delivery(body, headers, configured, now=NOW).run_id == RUN_ID


def test_receiver_holding_two_secrets_accepts_a_delivery_signed_with_the_old_one() -> None:
    body = _body()
    assert verify_delivery(body, _headers(body, OLD_SECRET), [NEW_SECRET, OLD_SECRET], now=NOW).run_id == RUN_ID


def test_stale_delivery_is_refused() -> None:
    body = _body()
    error = _refused(body, _headers(body, NEW_SECRET, t=NOW - 301))
    assert error.reason == "stale"
    assert "301 s ago" in str(error)
    # Exactly at the tolerance still passes; a wider tolerance lets the stale one in.
    verify_delivery(body, _headers(body, NEW_SECRET, t=NOW - 300), NEW_SECRET, now=NOW)
    verify_delivery(body, _headers(body, NEW_SECRET, t=NOW - 301), NEW_SECRET, now=NOW, tolerance=600)


def test_delivery_from_the_future_is_refused() -> None:
    body = _body()
    error = _refused(body, _headers(body, NEW_SECRET, t=NOW + 301))
    assert error.reason == "future"
    verify_delivery(body, _headers(body, NEW_SECRET, t=NOW + 299), NEW_SECRET, now=NOW)


def test_tampered_body_is_refused() -> None:
    body = _body()
    headers = _headers(body, NEW_SECRET)
    tampered = body.replace(b"completed", b"cancelled")
    assert _refused(tampered, headers).reason == "no_match"
    # Re-encoding the same JSON changes the bytes, so it fails too: verify the raw body.
    reencoded = json.dumps(json.loads(body), indent=1).encode()
    assert _refused(reencoded, headers).reason == "no_match"


def test_wrong_secret_is_refused() -> None:
    body = _body()
    error = _refused(body, _headers(body, "sk_whsec_somebody-elses-secret"), secrets=[NEW_SECRET, OLD_SECRET])
    assert error.reason == "no_match"
    assert "2 secret(s)" in str(error)


def test_missing_signature_header_is_refused() -> None:
    body = _body()
    headers = _headers(body, NEW_SECRET)
    del headers["Sixtyfour-Signature"]
    error = _refused(body, headers)
    assert error.reason == "missing_header"
    assert "allow_unsigned=True" in str(error)
    assert isinstance(error, SixtyfourError)


def test_unsigned_delivery_is_accepted_only_on_explicit_opt_in() -> None:
    body = _body()
    headers = _headers(body, NEW_SECRET)
    del headers["Sixtyfour-Signature"]
    delivery = verify_delivery(body, headers, (), now=NOW, allow_unsigned=True)
    assert not delivery.signed
    assert delivery.signed_at is None
    assert delivery.run_id == RUN_ID
    # Opting in does not switch verification off for a delivery that is signed.
    signed = _headers(body, "sk_whsec_somebody-elses-secret")
    assert _refused(body, signed, allow_unsigned=True).reason == "no_match"
    # Nor is a signed delivery let through when no secret was given to check it.
    error = _refused(body, _headers(body, NEW_SECRET), secrets=(), allow_unsigned=True)
    assert error.reason == "no_match"
    assert "no signing secret was given" in str(error)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("garbage", "not key=value"),
        ("t=abc,v1=" + "0" * 64, "not unix seconds"),
        (f"v1={'0' * 64}", "exactly one t="),
        (f"t={NOW},t={NOW},v1={'0' * 64}", "exactly one t="),
        (f"t={NOW}", "no v1="),
        (f"t={NOW},v0={'0' * 64}", "no v1="),
        (f"t={NOW},v1=xyz", "64-digit hex"),
        (f"t={NOW},v1={'g' * 64}", "64-digit hex"),
        (f"t=-{NOW},v1={'0' * 64}", "not unix seconds"),
    ],
)
def test_garbled_signature_header_is_refused(value: str, says: str) -> None:
    body = _body()
    error = _refused(body, {**_headers(body, NEW_SECRET), "Sixtyfour-Signature": value})
    assert error.reason == "malformed"
    assert says in str(error)


def test_unknown_schemes_next_to_v1_are_ignored() -> None:
    body = _body()
    headers = _headers(body, NEW_SECRET)
    headers["Sixtyfour-Signature"] += ",v2=whatever-comes-next"
    assert verify_delivery(body, headers, NEW_SECRET, now=NOW).run_id == RUN_ID


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "JSON list"),
        (json.dumps({"event_id": "evt_1"}).encode(), "no run_id"),
        (json.dumps({"run_id": RUN_ID, "status": 3}).encode(), "status is a int"),
        (json.dumps({"run_id": RUN_ID, "event_id": "evt_other"}).encode(), "differ"),
    ],
)
def test_a_signed_body_that_is_not_a_delivery_is_refused(body: bytes, says: str) -> None:
    error = _refused(body, _headers(body, NEW_SECRET))
    assert error.reason == "malformed"
    assert says in str(error)


def test_bad_attempt_header_is_refused() -> None:
    body = _body()
    assert _refused(body, _headers(body, NEW_SECRET, **{"Sixtyfour-Delivery-Attempt": "0"})).reason == "malformed"


def test_event_id_falls_back_to_the_envelope() -> None:
    body = _body()
    headers = _headers(body, NEW_SECRET)
    del headers["Sixtyfour-Event-Id"], headers["Sixtyfour-Delivery-Attempt"]
    delivery = verify_delivery(body, headers, NEW_SECRET, now=NOW)
    assert (delivery.event_id, delivery.attempt) == ("evt_1", None)


@pytest.mark.parametrize("secrets", [(), "", [NEW_SECRET, ""], [None]])
def test_no_usable_secret_is_an_input_error(secrets: Any) -> None:
    body = _body()
    with pytest.raises(SixtyfourInputError, match="secret"):
        verify_delivery(body, _headers(body, NEW_SECRET), secrets, now=NOW)


@pytest.mark.parametrize("tolerance", [float("nan"), float("inf"), -1.0, 86_401.0])
def test_a_tolerance_that_would_let_replays_through_is_an_input_error(tolerance: float) -> None:
    # NaN and infinity compare false to every age: a year-old replay would pass.
    body = _body()
    with pytest.raises(SixtyfourInputError, match="tolerance must be a finite number of seconds >= 0"):
        verify_delivery(
            body, _headers(body, NEW_SECRET, t=NOW - 365 * 86_400), NEW_SECRET, now=NOW, tolerance=tolerance
        )


def test_a_str_body_is_an_input_error() -> None:
    body = _body()
    with pytest.raises(SixtyfourInputError, match="raw body bytes"):
        verify_delivery(body.decode(), _headers(body, NEW_SECRET), NEW_SECRET, now=NOW)  # type: ignore[arg-type]


def test_importing_the_verifier_imports_no_airflow_and_no_http_client() -> None:
    code = (
        "import sys, airflow_provider_sixtyfour.webhooks as w; "
        "bad = [m for m in ('airflow', 'aiohttp', 'httpx', 'requests') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
