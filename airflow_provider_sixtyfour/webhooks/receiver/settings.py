"""The receiver's settings, read from the environment (every variable is listed in :data:`ENV_VARS`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.protocol.webhooks import DEFAULT_TOLERANCE_SECONDS, RECEIVER_DEADLINE_SECONDS

PREFIX = "SIXTYFOUR_RECEIVER_"

#: Every environment variable the receiver reads, and what it means (the README lists the same).
ENV_VARS: dict[str, str] = {
    "SIXTYFOUR_RECEIVER_SIGNING_SECRETS": "the signing secret(s), comma-separated, the new one first during a rotation",
    "SIXTYFOUR_RECEIVER_SIGNING_SECRETS_FILE": "a file holding the secret(s), one a line (instead of the variable)",
    "SIXTYFOUR_RECEIVER_ALLOW_UNSIGNED": "true to accept unsigned deliveries (an organisation without a secret)",
    "SIXTYFOUR_RECEIVER_TOLERANCE_SECONDS": "how old (or how far ahead) a signature may be; default 300",
    "SIXTYFOUR_RECEIVER_AIRFLOW_URL": "the Airflow API server's base URL, e.g. https://airflow.example.com (required)",
    "SIXTYFOUR_RECEIVER_AIRFLOW_USERNAME": "the Airflow user that creates asset events (POST /auth/token)",
    "SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD": "that user's password",
    "SIXTYFOUR_RECEIVER_AIRFLOW_PASSWORD_FILE": "a file holding the password (instead of the variable)",
    "SIXTYFOUR_RECEIVER_AIRFLOW_TOKEN": "a ready JWT for the Airflow API, instead of a username and password",
    "SIXTYFOUR_RECEIVER_STATUSES": "run statuses that create an asset event, comma-separated; default completed",
    "SIXTYFOUR_RECEIVER_HOST": "the address to listen on; default 127.0.0.1 (0.0.0.0 behind an ingress)",
    "SIXTYFOUR_RECEIVER_PORT": "the port to listen on; default 8065",
    "SIXTYFOUR_RECEIVER_PATH": "the path deliveries are POSTed to; default /sixtyfour/webhook",
    "SIXTYFOUR_RECEIVER_STORE": "the SQLite file of deliveries seen (dedupe); default ./sixtyfour-webhooks.sqlite3",
    "SIXTYFOUR_RECEIVER_DEADLINE_SECONDS": "answer within this many seconds, else 503 (the vendor waits 10); default 8",
    "SIXTYFOUR_RECEIVER_LOG_LEVEL": "DEBUG, INFO (default), WARNING or ERROR",
}

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """A setting is missing or wrong; the message names the variable and how to fix it."""


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver needs; secrets are left out of ``repr``.

    :param secrets: the signing secrets, the new first.
    :param airflow_url: the Airflow API server's base URL (no trailing slash).
    :param airflow_username: user for ``POST /auth/token``.
    :param airflow_password: that user's password.
    :param airflow_token: a ready JWT used instead of username and password.
    :param allow_unsigned: accept deliveries without a signature.
    :param tolerance: seconds a signature's time may be off.
    :param statuses: run statuses that create an asset event; others are acknowledged and recorded only.
    :param host: listen address.
    :param port: listen port (0 picks a free one).
    :param path: the delivery path.
    :param store_path: the SQLite file that remembers deliveries across restarts.
    :param deadline: seconds within which every delivery is answered.
    :param log_level: the logging level name.
    """

    secrets: tuple[str, ...] = field(repr=False)
    airflow_url: str
    airflow_username: str | None = None
    airflow_password: str | None = field(default=None, repr=False)
    airflow_token: str | None = field(default=None, repr=False)
    allow_unsigned: bool = False
    tolerance: float = DEFAULT_TOLERANCE_SECONDS
    statuses: frozenset[str] = frozenset({RunStatus.COMPLETED.value})
    host: str = "127.0.0.1"
    port: int = 8065
    path: str = "/sixtyfour/webhook"
    store_path: Path = Path("sixtyfour-webhooks.sqlite3")
    deadline: float = RECEIVER_DEADLINE_SECONDS - 2
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not self.secrets and not self.allow_unsigned:
            raise SettingsError(
                "no signing secret: set SIXTYFOUR_RECEIVER_SIGNING_SECRETS (or ..._FILE) to the organisation's "
                "secret (sk_whsec_...), or SIXTYFOUR_RECEIVER_ALLOW_UNSIGNED=true to accept unsigned deliveries"
            )
        if not self.airflow_url.startswith(("http://", "https://")):
            raise SettingsError("SIXTYFOUR_RECEIVER_AIRFLOW_URL must be the Airflow API server's http(s):// URL")
        if not self.airflow_token and not (self.airflow_username and self.airflow_password):
            raise SettingsError(
                "no Airflow credentials: set SIXTYFOUR_RECEIVER_AIRFLOW_USERNAME and ..._PASSWORD (or ..._FILE), "
                "or SIXTYFOUR_RECEIVER_AIRFLOW_TOKEN"
            )
        if not 0 < self.deadline < RECEIVER_DEADLINE_SECONDS:
            raise SettingsError(
                f"SIXTYFOUR_RECEIVER_DEADLINE_SECONDS must be above 0 and below the vendor's "
                f"{RECEIVER_DEADLINE_SECONDS:g} s"
            )
        if not self.path.startswith("/"):
            raise SettingsError("SIXTYFOUR_RECEIVER_PATH must start with /")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ReceiverSettings:
        """Read the ``SIXTYFOUR_RECEIVER_*`` variables of ``env``; raises :class:`SettingsError`."""
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k not in ENV_VARS)
        if unknown:
            raise SettingsError(f"unknown setting(s) {unknown}; known: {sorted(ENV_VARS)}")
        secrets = _secrets(env)
        statuses = frozenset(
            RunStatus.parse(s).value for s in _get(env, "STATUSES", "completed").split(",") if s.strip()
        )
        if RunStatus.UNKNOWN.value in statuses or not statuses:
            raise SettingsError("SIXTYFOUR_RECEIVER_STATUSES must list run statuses among completed, failed, cancelled")
        return cls(
            secrets=secrets,
            airflow_url=_get(env, "AIRFLOW_URL", "").rstrip("/"),
            airflow_username=_get(env, "AIRFLOW_USERNAME", "") or None,
            airflow_password=_from_file(env, "AIRFLOW_PASSWORD") or None,
            airflow_token=_get(env, "AIRFLOW_TOKEN", "") or None,
            allow_unsigned=_flag(env, "ALLOW_UNSIGNED"),
            tolerance=_number(env, "TOLERANCE_SECONDS", DEFAULT_TOLERANCE_SECONDS),
            statuses=statuses,
            host=_get(env, "HOST", "127.0.0.1"),
            port=int(_number(env, "PORT", 8065)),
            path=_get(env, "PATH", "/sixtyfour/webhook"),
            store_path=Path(_get(env, "STORE", "sixtyfour-webhooks.sqlite3")),
            deadline=_number(env, "DEADLINE_SECONDS", RECEIVER_DEADLINE_SECONDS - 2),
            log_level=_get(env, "LOG_LEVEL", "INFO").upper(),
        )


def _get(env: Mapping[str, str], name: str, default: str) -> str:
    return env.get(PREFIX + name, default).strip()


def _from_file(env: Mapping[str, str], name: str) -> str:
    direct = _get(env, name, "")
    path = _get(env, f"{name}_FILE", "")
    if direct and path:
        raise SettingsError(f"set {PREFIX}{name} or {PREFIX}{name}_FILE, not both")
    if not path:
        return direct
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as err:
        raise SettingsError(f"cannot read {PREFIX}{name}_FILE {path}: {err.strerror}") from None


def _secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    raw = _from_file(env, "SIGNING_SECRETS")
    return tuple(part.strip() for part in raw.replace("\n", ",").split(",") if part.strip())


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = _get(env, name, "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{PREFIX}{name} must be true or false, got {value!r}")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{PREFIX}{name} must be a finite number, not negative, got {raw!r}")
    return value
