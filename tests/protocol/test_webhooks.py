"""The webhook wire format: signature headers built and parsed as the vendor documents them."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from airflow_provider_sixtyfour.protocol import webhooks as wire
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError


def test_signature_header_has_one_v1_per_secret_new_first_and_parses_back_as_a_list() -> None:
    body = b'{"run_id":"r"}'
    value = wire.signature_header(["sk_whsec_new", "sk_whsec_old"], 1700000000, body)
    expected = [
        hmac.new(secret.encode(), b"1700000000." + body, hashlib.sha256).hexdigest()
        for secret in ("sk_whsec_new", "sk_whsec_old")
    ]
    assert value == f"t=1700000000,v1={expected[0]},v1={expected[1]}"
    parsed = wire.parse_signature_header(value)
    assert parsed == wire.ParsedSignature(1700000000, tuple(expected))


def test_header_lookup_ignores_case() -> None:
    assert wire.header({"sixtyfour-event-id": "e"}, wire.EVENT_ID_HEADER) == "e"
    assert wire.header({}, wire.EVENT_ID_HEADER) is None


def test_event_type_names_the_status() -> None:
    assert wire.event_type_for("completed") == "outgoing_webhook.completed"


def test_signing_needs_a_secret() -> None:
    with pytest.raises(SixtyfourInputError):
        wire.signature_header([], 1, b"")
