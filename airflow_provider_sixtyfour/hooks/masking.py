"""Register the API key with Airflow's secrets masker, on every Airflow version, without printing it.

Airflow 3's ``mask_secret`` also tells the supervisor process about a secret, and Airflow masks a
connection's password the same way when a task looks the connection up. Under ``airflow dags test`` the
supervisor is this same process (``InProcessSupervisorComms``), which logs every request to it at debug
level; Airflow 3.0 prints those lines (its structlog is unconfigured there) and a ``MaskSecret`` request is
not redacted, so the output carried ``Sending request msg=MaskSecret(value='<the key>')``.
:func:`hide_mask_requests` makes that logger drop exactly those lines; the masking itself is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

_FAILED = "Could not register the Sixtyfour API key with Airflow's secrets masker"


def mask(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker (sync; tasks and hooks).

    :param secret: the value to hide from every log line from now on.
    """
    try:
        from airflow.providers.common.compat.sdk import mask_secret

        hide_mask_requests()
        mask_secret(secret)
    except Exception:  # a missing masker must not stop the task; nothing is logged with the key anyway
        log.debug(_FAILED, exc_info=True)


async def amask(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker from an event loop (the triggerer).

    In an event loop Airflow 3 needs the async masker where it has one: the sync one talks to the
    supervisor with a blocking send and can deadlock against an in-flight async send.

    :param secret: the value to hide from every log line from now on.
    """
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:
        mask(secret)
        return
    try:
        hide_mask_requests()
        await amask_secret(secret)
    except Exception:
        log.debug(_FAILED, exc_info=True)


class _WithoutMaskRequests:
    """A logger that passes everything to ``inner`` except debug lines carrying a ``MaskSecret`` request."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @staticmethod
    def _carries_a_secret(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        return any(type(value).__name__ == "MaskSecret" for value in (*args, *kwargs.values()))

    def debug(self, event: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self._carries_a_secret(args, kwargs):
            return None
        return self._inner.debug(event, *args, **kwargs)

    async def adebug(self, event: Any = None, *args: Any, **kwargs: Any) -> Any:
        if self._carries_a_secret(args, kwargs):
            return None
        return await self._inner.adebug(event, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def hide_mask_requests() -> None:
    """Under ``airflow dags test`` (Airflow 3), stop the in-process supervisor printing secrets it is sent.

    Call it before anything that masks a secret (a connection lookup does). Elsewhere (a real worker or
    triggerer, whose supervisor logs only the request's type, or Airflow 2) it does nothing.
    """
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.supervisor import InProcessSupervisorComms
    except ImportError:  # Airflow 2
        return
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if not isinstance(comms, InProcessSupervisorComms):
        return
    current = getattr(comms, "log", None)
    if current is not None and not isinstance(current, _WithoutMaskRequests):
        comms.log = _WithoutMaskRequests(current)
