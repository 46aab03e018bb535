"""How the emulator signs and retries outgoing-webhook deliveries (the ``webhooks`` block of its config).

Example config::

    "webhooks": {"signing_secret": "sk_whsec_new...", "previous_signing_secret": "sk_whsec_old...",
                 "rotation_overlap_seconds": 86400, "max_attempts": 5, "backoff_seconds": 0.1,
                 "timeout_seconds": 2}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from airflow_provider_sixtyfour.emulator.known_keys import check_known_keys
from airflow_provider_sixtyfour.protocol.webhooks import (
    DEFAULT_ROTATION_OVERLAP_SECONDS,
    MAX_ROTATION_OVERLAP_SECONDS,
    RECEIVER_DEADLINE_SECONDS,
)


@dataclass(frozen=True)
class WebhookSettings:
    """Signing and retries of the deliveries the emulator sends.

    :param signing_secret: the organisation's signing secret (``sk_whsec_...``); None sends unsigned
        deliveries, as the vendor does for an organisation without one. Never logged or shown in ``repr``.
    :param previous_signing_secret: the secret being rotated out; while the overlap lasts, deliveries carry
        two ``v1=`` values, the new one first.
    :param rotation_overlap_seconds: how long after the rotation (the emulator's start, or
        ``EmulatorServer.rotate_webhook_secret``) the previous secret still signs: 24 h by default, at most
        72 h, 0 for an immediate cut-over.
    :param max_attempts: tries per delivery (the first one included) before the emulator gives up.
    :param backoff_seconds: the wait before the second try; it doubles for each further try.
    :param max_backoff_seconds: the longest wait between two tries.
    :param timeout_seconds: how long the emulator waits for the receiver's answer (the vendor's 10 s);
        no answer by then counts as a lost answer and is retried.
    """

    signing_secret: str | None = field(default=None, repr=False)
    previous_signing_secret: str | None = field(default=None, repr=False)
    rotation_overlap_seconds: float = DEFAULT_ROTATION_OVERLAP_SECONDS
    max_attempts: int = 6
    backoff_seconds: float = 1.0
    max_backoff_seconds: float = 60.0
    timeout_seconds: float = RECEIVER_DEADLINE_SECONDS

    def __post_init__(self) -> None:
        for name in ("signing_secret", "previous_signing_secret"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"webhooks.{name} must be a non-empty string (or left out)")
        if self.previous_signing_secret is not None and self.signing_secret is None:
            raise ValueError("webhooks.previous_signing_secret needs a signing_secret (the new secret)")
        if not 0 <= self.rotation_overlap_seconds <= MAX_ROTATION_OVERLAP_SECONDS:
            raise ValueError(
                f"webhooks.rotation_overlap_seconds must be between 0 and {MAX_ROTATION_OVERLAP_SECONDS:g} (72 h)"
            )
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError("webhooks.max_attempts must be an integer >= 1")
        if self.backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise ValueError("webhooks.backoff_seconds and max_backoff_seconds must not be negative")
        if self.timeout_seconds <= 0:
            raise ValueError("webhooks.timeout_seconds must be positive")

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based) before the next one."""
        return float(min(self.max_backoff_seconds, self.backoff_seconds * 2 ** (attempt - 1)))

    def secrets_at(self, seconds_since_rotation: float) -> tuple[str, ...]:
        """The secrets that sign now, the new first: two during the overlap, one after, none when unsigned."""
        if self.signing_secret is None:
            return ()
        if self.previous_signing_secret is not None and seconds_since_rotation < self.rotation_overlap_seconds:
            return (self.signing_secret, self.previous_signing_secret)
        return (self.signing_secret,)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookSettings:
        """Read the config's ``webhooks`` object; unknown keys are an error naming the known ones."""
        if not isinstance(data, Mapping):
            raise ValueError("webhooks must be an object (signing_secret, max_attempts, ...)")
        check_known_keys(data, (f.name for f in fields(cls)), "webhooks")
        return cls(**dict(data))
