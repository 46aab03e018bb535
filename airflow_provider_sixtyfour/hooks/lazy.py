"""A hook for an operator, built when a task runs: operator modules import this, never the hooks themselves,
so that parsing a DAG file imports no HTTP client."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook


def sync_hook(sixtyfour_conn_id: str) -> SixtyfourHook:
    """A :class:`~airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook` on ``sixtyfour_conn_id``."""
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    return SixtyfourHook(sixtyfour_conn_id=sixtyfour_conn_id)


class SixtyfourHookMixin:
    """Gives an operator or sensor with a ``sixtyfour_conn_id`` its ``hook``: built at first use, in the
    task (never while the DAG is parsed), then kept for the task's life, so that the waits it binds with
    ``bound_waits`` and the calls it makes are one hook's."""

    sixtyfour_conn_id: str

    @cached_property
    def hook(self) -> SixtyfourHook:
        """A :class:`~airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook` on ``sixtyfour_conn_id``."""
        return sync_hook(self.sixtyfour_conn_id)
