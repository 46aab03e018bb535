"""The settings of a ``sixtyfour`` connection: where the API is, the key, timeouts and retry budget.

Read from the Airflow connection once per hook (sync or async), validated with a message that says
which field is wrong and how to fix it, and the API key registered with Airflow's secrets masker.
"""

from __future__ import annotations

import json
import logging
import math
import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar, cast
from urllib.parse import quote, urlsplit, urlunsplit

from airflow_provider_sixtyfour.connection_form import (
    APP_BASE_URL,
    APP_URL,
    BACKOFF_BASE,
    CONN_TYPE,
    EXTRA_FIELDS,
    MAX_RETRIES,
    TIMEOUT,
    ExtraField,
)
from airflow_provider_sixtyfour.hooks.masking import amask, hide_mask_requests, mask
from airflow_provider_sixtyfour.protocol.endpoints import DEFAULT_BASE_URL
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy

log = logging.getLogger(__name__)

T = TypeVar("T")

#: A run's page in the Sixtyfour web app. The real pattern is not documented: change it here only.
RUN_URL_TEMPLATE = "{app_url}/workflows/runs/{job_id}"


class ConnectionExtras:
    """A connection's extras, validated: one value per field of
    :data:`~airflow_provider_sixtyfour.connection_form.EXTRA_FIELDS`, read by that field and typed by it.

    ``extras[TIMEOUT]`` is a ``float``, ``extras[APP_URL]`` a ``str``. An extra declared in
    ``EXTRA_FIELDS`` is read, validated and available here with no other edit. :meth:`read` builds
    one from a connection's Extra field.

    :param values: validated values by extra name; a field left out has its default.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        given = dict(values or {})
        unknown = sorted(set(given) - {spec.name for spec in EXTRA_FIELDS})
        if unknown:
            raise ValueError(f"not extras of a Sixtyfour connection: {', '.join(unknown)}")
        self._values = {spec.name: given.get(spec.name, spec.default) for spec in EXTRA_FIELDS}

    def __getitem__(self, spec: ExtraField[T]) -> T:
        return cast(T, self._values[spec.name])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ConnectionExtras) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._values!r})"

    @classmethod
    def read(cls, extra: object, conn_id: str) -> ConnectionExtras:
        """Validate a connection's Extra (JSON text, a mapping, or empty), each extra against its field.

        A key may carry the form's ``extra__sixtyfour__`` prefix; keys no field declares are logged
        as a warning, not refused. Raises :class:`SixtyfourInputError` naming the extra and the fix.
        """
        data = _read_extra(extra, conn_id)
        known = {spec.name for spec in EXTRA_FIELDS}
        prefix = f"extra__{CONN_TYPE}__"
        unknown = sorted(k for k in data if k not in known and k.removeprefix(prefix) not in known)
        if unknown:
            log.warning(
                "Sixtyfour connection %r has extras this provider does not use: %s (known: %s)",
                conn_id,
                ", ".join(unknown),
                ", ".join(sorted(known)),
            )
        return cls(
            {
                spec.name: _extra_value(conn_id, spec, data.get(spec.name, data.get(prefix + spec.name)))
                for spec in EXTRA_FIELDS
            }
        )


@dataclass(frozen=True)
class ConnectionSettings:
    """Everything a transport needs to talk to the API, read from one Airflow connection.

    :param conn_id: the Airflow connection id the settings came from.
    :param base_url: the API's base URL, without a trailing slash.
    :param api_key: the API key (sent as ``x-api-key``); never part of ``repr``.
    :param timeout: seconds to wait for each answer.
    :param retry: the retry budget and backoff for 429, 5xx and transport failures.
    :param app_url: the Sixtyfour web app's base URL, for links to runs.
    :param extras: every extra as validated, read by field (``settings.extras[connection_form.TIMEOUT]``);
        ``timeout``, ``retry`` and ``app_url`` are what the transports use, built from them.
    """

    conn_id: str
    base_url: str
    api_key: str = field(repr=False)
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    app_url: str = APP_BASE_URL
    extras: ConnectionExtras = field(default_factory=ConnectionExtras, repr=False)

    def url(self, path: str) -> str:
        """The absolute URL of an API path."""
        return self.base_url + path

    def run_url(self, job_id: str) -> str:
        """The run's page in the Sixtyfour web app."""
        return RUN_URL_TEMPLATE.format(app_url=self.app_url, job_id=quote(str(job_id), safe=""))


def missing_connection_message(conn_id: str) -> str:
    """What to tell a user whose connection id Airflow does not find.

    Airflow 3.0 and 3.1 also report a connection they could not parse (an Extra field that is not a JSON
    object, say) as missing: when its environment variable is set, say so instead.
    """
    env_name = "AIRFLOW_CONN_" + conn_id.upper()
    example = json.dumps({"conn_type": CONN_TYPE, "password": "<your Sixtyfour API key>"})
    if os.environ.get(env_name):
        return (
            f"Airflow could not read connection {conn_id!r} from the environment variable {env_name}: it is "
            f"set, but Airflow rejected it (Airflow's log says why; the Extra field must be a JSON object). "
            f"Its form is {env_name}='{example}'"
        )
    return (
        f"Airflow has no connection {conn_id!r}. Create it in the UI (Admin > Connections, connection type "
        f"'Sixtyfour', the API key in the 'API key' field) or set the environment variable {env_name}='{example}'"
    )


def base_url_from(host: str | None, port: int | None, conn_id: str) -> str:
    """The API base URL from a connection's host (and port); the Sixtyfour API when host is empty.

    A host with a scheme is used as it is; a bare host name gets ``https://``.
    """
    text = (host or "").strip()
    if not text:
        return DEFAULT_BASE_URL
    if "://" not in text:
        text = "https://" + text
    problem = None
    try:
        parts = urlsplit(text)
        explicit_port = parts.port
    except ValueError:
        parts, explicit_port, problem = None, None, "it is not a valid URL"
    if parts is not None:
        if parts.scheme not in ("http", "https"):
            problem = f"its scheme is {parts.scheme!r}, not http or https"
        elif not parts.hostname:
            problem = "it has no host name"
        elif parts.username or parts.password:
            problem = "it contains credentials; put the API key in the password field instead"
        elif parts.query or parts.fragment:
            problem = "it has a query string or fragment"
    if problem or parts is None:
        # The host is not echoed whole: it might hold credentials.
        raise SixtyfourInputError(
            f"The host of Sixtyfour connection {conn_id!r} is not a usable API base URL ({problem}): leave it "
            f"empty for {DEFAULT_BASE_URL}, or give a URL such as http://127.0.0.1:8064 for the emulator"
        )
    netloc = parts.netloc
    if port and explicit_port is None:
        netloc = f"{netloc}:{int(port)}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def _bad_extra(conn_id: str, spec: ExtraField[Any], value: object, expected: str) -> SixtyfourInputError:
    return SixtyfourInputError(
        f"Sixtyfour connection {conn_id!r}: extra {spec.name!r} ({spec.label}) must be {expected}, got {value!r}. "
        f"Fix it in the connection's Extra JSON, or remove it to use the default {spec.default!r}"
    )


def _extra_value(conn_id: str, spec: ExtraField[Any], value: object) -> Any:
    """Validate one extra against its form definition; None or an empty string gives the default."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return spec.default
    expected = {"integer": "a whole number", "number": "a number", "string": "a text"}[spec.type]
    if spec.minimum is not None:
        expected += f" of at least {spec.minimum:g}"
    if spec.type == "string":
        if not isinstance(value, str):
            raise _bad_extra(conn_id, spec, value, expected)
        text = value.strip()
        if spec.url:
            text = text.rstrip("/")
            if urlsplit(text).scheme not in ("http", "https"):
                raise _bad_extra(conn_id, spec, text, "an http(s) URL")
        return text
    if isinstance(value, bool):
        raise _bad_extra(conn_id, spec, value, expected)
    try:
        number = float(value) if isinstance(value, (int, float, str)) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or (spec.type == "integer" and not number.is_integer()):
        raise _bad_extra(conn_id, spec, value, expected)
    if spec.minimum is not None and number < spec.minimum:
        raise _bad_extra(conn_id, spec, value, expected)
    return int(number) if spec.type == "integer" else number


def _read_extra(extra: object, conn_id: str) -> Mapping[str, Any]:
    if extra is None or extra == "":
        return {}
    if isinstance(extra, Mapping):
        return extra
    try:
        data = json.loads(str(extra))
    except ValueError:
        data = None
    if not isinstance(data, Mapping):
        raise SixtyfourInputError(
            f"The Extra field of Sixtyfour connection {conn_id!r} is not a JSON object: write it like "
            '{"timeout": 30, "max_retries": 5}, or leave it empty'
        )
    return data


def settings_from_connection(conn: Any, conn_id: str) -> ConnectionSettings:
    """Build and validate the settings from an Airflow ``Connection`` (any Airflow version)."""
    api_key = (getattr(conn, "password", None) or "").strip()
    if not api_key:
        raise SixtyfourInputError(
            f"Sixtyfour connection {conn_id!r} has no API key: put the key in its password field "
            "(labelled 'API key' in the connection form)"
        )
    base_url = base_url_from(getattr(conn, "host", None), getattr(conn, "port", None), conn_id)
    extras = ConnectionExtras.read(getattr(conn, "extra", None), conn_id)
    return ConnectionSettings(
        conn_id=conn_id,
        base_url=base_url,
        api_key=api_key,
        timeout=extras[TIMEOUT],
        retry=RetryPolicy(max_attempts=extras[MAX_RETRIES] + 1, backoff_base=extras[BACKOFF_BASE]),
        app_url=extras[APP_URL],
        extras=extras,
    )


def load_settings(conn_id: str) -> ConnectionSettings:
    """Look the connection up (blocking) and return its settings; the key is masked from logs."""
    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    hide_mask_requests()  # Airflow masks the password while it looks the connection up
    try:
        conn = BaseHook.get_connection(conn_id)
    # What Airflow 2.11 (airflow.exceptions) and 3.x (airflow.sdk.exceptions) raise for a connection
    # they do not have; the compat SDK names the one of the running Airflow.
    except AirflowNotFoundException:
        raise SixtyfourInputError(missing_connection_message(conn_id)) from None
    settings = settings_from_connection(conn, conn_id)
    mask(settings.api_key)
    return settings


async def aload_settings(conn_id: str) -> ConnectionSettings:
    """Look the connection up without blocking the event loop, and return its settings.

    Airflow 3 offers ``BaseHook.aget_connection``; older Airflow reads the connection in a thread.
    """
    import asyncio

    from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

    aget = getattr(BaseHook, "aget_connection", None)
    hide_mask_requests()  # Airflow masks the password while it looks the connection up
    try:
        if aget is not None:
            conn = await aget(conn_id)
        else:
            conn = await asyncio.to_thread(BaseHook.get_connection, conn_id)
    except AirflowNotFoundException:
        raise SixtyfourInputError(missing_connection_message(conn_id)) from None
    settings = settings_from_connection(conn, conn_id)
    await amask(settings.api_key)
    return settings


@cache
def user_agent() -> str:
    """``airflow-provider-sixtyfour/<v> apache-airflow/<v> python/<v>``, sent with every request."""
    from importlib.metadata import PackageNotFoundError, version

    from airflow_provider_sixtyfour import __version__

    try:
        airflow_version = version("apache-airflow")
    except PackageNotFoundError:
        airflow_version = "unknown"
    return (
        f"airflow-provider-sixtyfour/{__version__} apache-airflow/{airflow_version} python/{platform.python_version()}"
    )
