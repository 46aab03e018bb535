"""``verify_delivery``: check one outgoing-webhook delivery exactly as the vendor signs it, and read it.

Pure: no I/O, no clock unless ``now`` is left out. See ``protocol.webhooks`` for the scheme.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_sixtyfour.assets import workflow_asset_uri
from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol import webhooks as wire
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, SixtyfourWebhookError

#: The most seconds :func:`verify_delivery` lets a signature's time be off (a day).
MAX_TOLERANCE_SECONDS = 86_400.0

#: ``sixtyfour://workflows/<workflow_id>``, the asset a DAG schedules on to run after that workflow's runs:
#: the one definition in :mod:`airflow_provider_sixtyfour.assets`, so that the receiver's asset events
#: land on the very Asset the run-event watcher and users' DAGs name.
asset_uri = workflow_asset_uri


@dataclass(frozen=True)
class WebhookDelivery:
    """A verified delivery.

    :param event_id: the dedupe key (``Sixtyfour-Event-Id``, else the envelope's ``event_id``).
    :param event_type: the routing hint (``Sixtyfour-Event-Type``, e.g. ``outgoing_webhook.completed``), if any.
    :param attempt: ``Sixtyfour-Delivery-Attempt`` (1 for the first try), if sent.
    :param run_id: the run's id, which is the ``job_id`` of the API.
    :param workflow_id: the workflow the run belongs to, if the envelope says.
    :param status: the run's status as the envelope says (e.g. ``completed``), if it does.
    :param envelope: the whole parsed JSON body. It may hold a signed ``results_download_url``, a credential
        while it lives: it is left out of ``repr`` and of :meth:`summary`.
    :param signed: False only for an unsigned delivery accepted with ``allow_unsigned=True``.
    :param signed_at: the ``t=`` of the signature (unix seconds), None when unsigned.
    """

    event_id: str
    event_type: str | None
    attempt: int | None
    run_id: str
    workflow_id: str | None
    status: str | None
    envelope: Mapping[str, Any] = field(repr=False)
    signed: bool = True
    signed_at: int | None = None

    @property
    def job_id(self) -> str:
        """The run's ``job_id`` (the same value as :attr:`run_id`)."""
        return self.run_id

    @property
    def results_download_url(self) -> str | None:
        """The signed URL of the results, if the envelope has one (never log it whole)."""
        value = self.envelope.get("results_download_url")
        return value if isinstance(value, str) and value else None

    def summary(self) -> dict[str, Any]:
        """A JSON-safe description without the results or any signed URL (for logs and asset events)."""
        data: dict[str, Any] = {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "attempt": self.attempt,
            "run_id": self.run_id,
            "job_id": self.run_id,
            "workflow_id": self.workflow_id,
            "status": self.status,
        }
        for key in ("completed_at", "error_message"):
            value = self.envelope.get(key)
            if isinstance(value, str):
                data[key] = value
        return data


def verify_delivery(
    body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    tolerance: float = wire.DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
    allow_unsigned: bool = False,
) -> WebhookDelivery:
    """Verify a delivery's signature and read its envelope.

    :param body: the raw request body, exactly the bytes received (before any JSON parsing).
    :param headers: the request headers; names are matched whatever their case.
    :param secrets: the signing secret, or several (the new and the old one during a rotation): the
        delivery passes when any ``v1=`` value matches any secret. May be empty only with ``allow_unsigned``.
    :param tolerance: the most seconds between the signature's ``t=`` and ``now``, either way.
    :param now: the current unix time; defaults to the clock.
    :param allow_unsigned: accept a delivery without ``Sixtyfour-Signature`` (an organisation without a
        signing secret). Off by default: an unsigned delivery is refused.
    :raises SixtyfourWebhookError: with ``reason`` ``missing_header``, ``malformed``, ``stale``, ``future``
        or ``no_match``.
    :raises SixtyfourInputError: when ``body`` is not bytes or no usable secret is given.
    """
    if not isinstance(body, (bytes, bytearray, memoryview)):
        raise SixtyfourInputError(
            f"verify_delivery needs the raw body bytes as received, got {type(body).__name__}: "
            "pass the request's bytes (e.g. await request.read()), not parsed or re-encoded JSON"
        )
    raw = bytes(body)
    # NaN or infinity would let every replay through: no age compares greater than them.
    validate.seconds(tolerance, "tolerance", zero=True, most=MAX_TOLERANCE_SECONDS)
    header_value = wire.header(headers, wire.SIGNATURE_HEADER)
    signed_at: int | None = None
    if header_value is None or not header_value.strip():
        if not allow_unsigned:
            raise SixtyfourWebhookError(
                wire.MISSING_HEADER,
                f"the delivery has no {wire.SIGNATURE_HEADER} header. Unsigned deliveries are refused: create a "
                "signing secret for the organisation in Sixtyfour, or opt in with allow_unsigned=True",
            )
    else:
        if allow_unsigned and not secrets:
            raise SixtyfourWebhookError(
                wire.NO_MATCH,
                "the delivery is signed, but no signing secret was given to check it: pass the organisation's "
                "signing secret (it created one since unsigned deliveries were allowed)",
            )
        keys = wire.normalize_secrets(secrets)
        parsed = wire.parse_signature_header(header_value)
        _check_time(parsed.timestamp, time.time() if now is None else now, tolerance)
        if not _matches(parsed, keys, raw):
            raise SixtyfourWebhookError(
                wire.NO_MATCH,
                f"none of the {len(parsed.signatures)} {wire.SCHEME}= signature(s) matches any of the "
                f"{len(keys)} secret(s) given: the body was changed after signing (verify the raw bytes), or "
                "the secret is wrong or was rotated (pass the new and the old secret)",
            )
        signed_at = parsed.timestamp
    return _read(raw, headers, signed=signed_at is not None, signed_at=signed_at)


def _check_time(timestamp: int, now: float, tolerance: float) -> None:
    age = now - timestamp
    if age > tolerance:
        raise SixtyfourWebhookError(
            wire.STALE,
            f"the delivery was signed {age:.0f} s ago, more than the {tolerance:g} s allowed: a replay, or a "
            "receiver clock that is wrong (sync it with NTP)",
        )
    if -age > tolerance:
        raise SixtyfourWebhookError(
            wire.FUTURE,
            f"the delivery is signed {-age:.0f} s in the future, more than the {tolerance:g} s allowed: "
            "the receiver's clock is behind (sync it with NTP)",
        )


def _matches(parsed: wire.ParsedSignature, keys: Sequence[str], body: bytes) -> bool:
    matched = False
    for secret in keys:
        expected = wire.signature(secret, parsed.timestamp, body)
        for candidate in parsed.signatures:
            # Every pair is compared (no early exit), so timing does not tell which secret matched.
            matched |= hmac.compare_digest(expected, candidate)
    return matched


def _read(body: bytes, headers: Mapping[str, str], *, signed: bool, signed_at: int | None) -> WebhookDelivery:
    try:
        envelope = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise SixtyfourWebhookError(wire.MALFORMED, "the body is not JSON; a delivery is a JSON object") from None
    if not isinstance(envelope, dict):
        raise SixtyfourWebhookError(
            wire.MALFORMED, f"the body is a JSON {type(envelope).__name__}, not the object a delivery is"
        )
    run_id = envelope.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise SixtyfourWebhookError(wire.MALFORMED, "the envelope has no run_id (a non-empty string)")
    header_event = wire.header(headers, wire.EVENT_ID_HEADER)
    body_event = _text(envelope, "event_id")
    if header_event and body_event and header_event != body_event:
        raise SixtyfourWebhookError(
            wire.MALFORMED, f"the {wire.EVENT_ID_HEADER} header and the envelope's event_id differ"
        )
    event_id = header_event or body_event
    if not event_id:
        raise SixtyfourWebhookError(
            wire.MALFORMED, f"the delivery has no event id (neither a {wire.EVENT_ID_HEADER} header nor event_id)"
        )
    return WebhookDelivery(
        event_id=event_id,
        event_type=wire.header(headers, wire.EVENT_TYPE_HEADER) or _text(envelope, "event_type"),
        attempt=_attempt(wire.header(headers, wire.ATTEMPT_HEADER)),
        run_id=run_id,
        workflow_id=_text(envelope, "workflow_id"),
        status=_text(envelope, "status"),
        envelope=envelope,
        signed=signed,
        signed_at=signed_at,
    )


def _text(envelope: Mapping[str, Any], key: str) -> str | None:
    value = envelope.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise SixtyfourWebhookError(wire.MALFORMED, f"the envelope's {key} is a {type(value).__name__}, not a string")
    return value or None


def _attempt(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or not text.isascii() or int(text) < 1:
        raise SixtyfourWebhookError(
            wire.MALFORMED, f"the {wire.ATTEMPT_HEADER} header is not a positive integer (1 for the first try)"
        )
    return int(text)
