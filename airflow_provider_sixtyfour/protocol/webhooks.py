"""Sixtyfour's signed outgoing webhooks: header names, the signature scheme and the delivery envelope.

The one definition shared by the verifier (``airflow_provider_sixtyfour.webhooks``), the receiver and the
emulator that sends deliveries. The scheme, as the vendor documents it: ``Sixtyfour-Signature:
t=<unix seconds>,v1=<hex>``, where ``<hex>`` is the HMAC-SHA256, keyed with the secret's UTF-8 bytes, of
``f"{t}.{raw_body}"``; during a secret rotation the header carries one ``v1=`` per secret, the new first.
Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, SixtyfourWebhookError

SIGNATURE_HEADER = "Sixtyfour-Signature"
EVENT_ID_HEADER = "Sixtyfour-Event-Id"
EVENT_TYPE_HEADER = "Sixtyfour-Event-Type"
ATTEMPT_HEADER = "Sixtyfour-Delivery-Attempt"

#: The signature scheme this provider reads; segments of other schemes are ignored (forward compatible).
SCHEME = "v1"
#: Deliveries signed longer ago (or further ahead) than this many seconds are refused.
DEFAULT_TOLERANCE_SECONDS = 300.0
#: A receiver must answer within this many seconds, or the vendor retries the delivery.
RECEIVER_DEADLINE_SECONDS = 10.0
#: How long the old secret still signs after a rotation: 24 h by default, at most 72 h, 0 for a cut-over.
DEFAULT_ROTATION_OVERLAP_SECONDS = 24 * 3600.0
MAX_ROTATION_OVERLAP_SECONDS = 72 * 3600.0
#: The routing hint of a run's delivery is this prefix and the run's status (``outgoing_webhook.completed``).
EVENT_TYPE_PREFIX = "outgoing_webhook."

MISSING_HEADER, MALFORMED, STALE, FUTURE, NO_MATCH = "missing_header", "malformed", "stale", "future", "no_match"
REASONS = (MISSING_HEADER, MALFORMED, STALE, FUTURE, NO_MATCH)

_HEX_DIGEST_LENGTH = 64
_HEX = frozenset("0123456789abcdef")


def event_type_for(status: str) -> str:
    """The ``Sixtyfour-Event-Type`` of the delivery for a run that ended in ``status``."""
    return f"{EVENT_TYPE_PREFIX}{status}"


def normalize_secrets(secrets: str | Sequence[str]) -> tuple[str, ...]:
    """``secrets`` as a non-empty tuple of non-empty strings; raises ``SixtyfourInputError`` otherwise."""
    values = (secrets,) if isinstance(secrets, str) else tuple(secrets)
    if not values:
        raise SixtyfourInputError(
            "no webhook signing secret was given: pass the organisation's signing secret (sk_whsec_...), "
            "or both the new and the old one during a rotation"
        )
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value.strip():
            raise SixtyfourInputError(
                f"webhook signing secret number {index + 1} is empty or not a string: pass each secret as text"
            )
    return values


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex ``v1`` signature of ``body`` sent at ``timestamp`` under ``secret``."""
    message = f"{timestamp}.".encode() + bytes(body)
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secrets: str | Sequence[str], timestamp: int, body: bytes) -> str:
    """The ``Sixtyfour-Signature`` value: ``t=...`` and one ``v1=`` per secret, in the order given."""
    parts = [f"t={int(timestamp)}"]
    parts.extend(f"{SCHEME}={signature(secret, int(timestamp), body)}" for secret in normalize_secrets(secrets))
    return ",".join(parts)


@dataclass(frozen=True)
class ParsedSignature:
    """A ``Sixtyfour-Signature`` header, read: the signing time and every ``v1`` value, in order."""

    timestamp: int
    signatures: tuple[str, ...]


def parse_signature_header(value: str) -> ParsedSignature:
    """Read ``t=<seconds>,v1=<hex>[,v1=<hex>...]`` as a list of segments (a dict would drop the second ``v1``).

    Raises ``SixtyfourWebhookError`` (``malformed``) naming what is wrong; the message never repeats a digest.
    """
    timestamps: list[str] = []
    found: list[str] = []
    for raw in value.split(","):
        segment = raw.strip()
        if not segment:
            continue
        key, sep, item = segment.partition("=")
        key, item = key.strip(), item.strip()
        if not sep or not key:
            raise SixtyfourWebhookError(
                MALFORMED, f"the {SIGNATURE_HEADER} header has a segment that is not key=value; expected t=..,v1=.."
            )
        if key == "t":
            timestamps.append(item)
        elif key == SCHEME:
            digest = item.lower()
            if len(digest) != _HEX_DIGEST_LENGTH or not set(digest) <= _HEX:
                raise SixtyfourWebhookError(
                    MALFORMED, f"a {SCHEME}= value of the {SIGNATURE_HEADER} header is not a 64-digit hex HMAC-SHA256"
                )
            found.append(digest)
    if len(timestamps) != 1:
        raise SixtyfourWebhookError(
            MALFORMED, f"the {SIGNATURE_HEADER} header must carry exactly one t=<unix seconds>, got {len(timestamps)}"
        )
    if not timestamps[0].isdigit() or not timestamps[0].isascii():
        raise SixtyfourWebhookError(MALFORMED, f"the t= value of the {SIGNATURE_HEADER} header is not unix seconds")
    if not found:
        raise SixtyfourWebhookError(MALFORMED, f"the {SIGNATURE_HEADER} header has no {SCHEME}= signature")
    return ParsedSignature(int(timestamps[0]), tuple(found))


def header(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` in ``headers``, whatever the case of its name (None when absent)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, item in headers.items():
        if key.lower() == lowered:
            return item
    return None
