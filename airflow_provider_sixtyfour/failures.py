"""Ending a task without Airflow's retries when a retry cannot fix what went wrong.

A wrong parameter, a target that already exists, a run that failed: trying again in five minutes
sends the same request and gets the same answer, so the operators and the sensor turn these into
``AirflowFailException`` (the task fails at once, whatever its ``retries``). Everything else (no
answer, 5xx, a download cut short) is left to Airflow's retries. Which errors are final is decided
once, by :func:`airflow_provider_sixtyfour.protocol.errors.is_final`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, is_final


@contextmanager
def fail_without_retries() -> Iterator[None]:
    """Re-raise final Sixtyfour errors as ``AirflowFailException`` with the same message; others as they are."""
    try:
        yield
    except SixtyfourError as err:
        if is_final(err):
            raise AirflowFailException(str(err)) from err
        raise
