"""``SixtyfourHook`` (blocking, for operators) and ``SixtyfourAsyncHook`` (for triggers).

Both build their requests with :mod:`airflow_provider_sixtyfour.protocol.endpoints`, send them
through the one retry loop in :mod:`~airflow_provider_sixtyfour.hooks.retrying`, and return the
typed records of :mod:`~airflow_provider_sixtyfour.protocol.models`. Errors are the exceptions of
:mod:`~airflow_provider_sixtyfour.protocol.errors`. Importing this module imports neither
``requests`` nor ``httpx``: they load on the first call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseHook

from airflow_provider_sixtyfour import connection_form
from airflow_provider_sixtyfour.hooks import calls
from airflow_provider_sixtyfour.hooks.retrying import WaitLimits
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings, aload_settings, load_settings
from airflow_provider_sixtyfour.hooks.uploads import open_upload
from airflow_provider_sixtyfour.protocol import endpoints, models
from airflow_provider_sixtyfour.protocol.errors import SixtyfourError

if TYPE_CHECKING:
    import requests

    from airflow_provider_sixtyfour.hooks.transport_async import AsyncTransport
    from airflow_provider_sixtyfour.hooks.transport_sync import SyncTransport

__all__ = ["ConnectionSettings", "SixtyfourAsyncHook", "SixtyfourHook"]


class SixtyfourHook(BaseHook):
    """Talks to the Sixtyfour Workflows API, blocking; for operators and sensors.

    The ``sixtyfour`` connection holds the API key in ``password``; ``host`` may override the API
    base URL (leave it empty for ``https://api.sixtyfour.ai``); the extras of
    :data:`~airflow_provider_sixtyfour.connection_form.EXTRA_FIELDS` (a timeout, the retry budget,
    the app's URL) tune requests and links. 429, 5xx and lost connections are retried with backoff,
    honouring ``Retry-After`` up to ``max_wait`` (a longer demand fails the call at once). Each answer
    must arrive whole within ``timeout``; redirects are never followed. One ``requests.Session``
    (connection pool) serves all calls of a hook; see :meth:`bound_waits` to make its waits end with a
    task's deadline or ``on_kill``.

    :param sixtyfour_conn_id: the Airflow connection to use.
    """

    conn_name_attr = "sixtyfour_conn_id"
    default_conn_name = connection_form.DEFAULT_CONN_ID
    conn_type = connection_form.CONN_TYPE
    hook_name = connection_form.HOOK_NAME

    def __init__(self, sixtyfour_conn_id: str = connection_form.DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.sixtyfour_conn_id = sixtyfour_conn_id
        self._settings: ConnectionSettings | None = None
        self._transport: SyncTransport | None = None
        self.wait_limits = WaitLimits()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sixtyfour_conn_id={self.sixtyfour_conn_id!r})"

    def bound_waits(self, stop: threading.Event | None = None, deadline: float | None = None) -> None:
        """Cut this hook's retry and rate-limit waits short: when ``stop`` is set (e.g. by ``on_kill``),
        and where a wait would pass ``deadline`` (epoch seconds; None for no deadline). A call whose wait
        is cut fails at once with the error that asked for the wait.

        :param stop: an event whose setting ends every wait of this hook.
        :param deadline: no wait may pass this time; None removes the deadline.
        """
        self.wait_limits.stop = stop
        self.wait_limits.deadline = deadline

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """The connection form's standard fields (hidden, relabelled), from :mod:`connection_form`."""
        return connection_form.hook_ui_field_behaviour()

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """The connection form's extra fields as widgets (Airflow before 3.2), from :mod:`connection_form`."""
        return connection_form.connection_form_widgets()

    @property
    def settings(self) -> ConnectionSettings:
        """The connection's settings, read (and the key masked) on first use."""
        if self._settings is None:
            self._settings = load_settings(self.sixtyfour_conn_id)
        return self._settings

    @property
    def transport(self) -> SyncTransport:
        """The blocking transport (one pooled session), created on first use."""
        if self._transport is None:
            from airflow_provider_sixtyfour.hooks.transport_sync import SyncTransport

            self._transport = SyncTransport(self.settings, self.log, self.wait_limits)
        return self._transport

    def get_conn(self) -> requests.Session:
        """The ``requests.Session`` the hook sends with (the key is already in its headers)."""
        return self.transport.session

    def close(self) -> None:
        """Close pooled connections; the hook opens new ones if used again."""
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def __enter__(self) -> SixtyfourHook:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def run_workflow(
        self,
        workflow_id: str,
        webhook_payload: list[dict[str, Any]] | dict[str, Any] | None = None,
        specs_override: dict[str, Any] | None = None,
        *,
        save_json: bool = False,
        idempotency_key: str | None = None,
    ) -> models.RunStarted:
        """Start a run of ``workflow_id``; retry-safe, as every try of one call sends the same ``Idempotency-Key``.

        :param workflow_id: the workflow to run.
        :param webhook_payload: rows (a dict or a list of dicts) for a workflow whose first block is ``webhook``.
        :param specs_override: block settings to override, e.g. ``{"resource_handle_id": handle}`` after
            :meth:`upload_csv`.
        :param save_json: also keep the results as JSON (for ``get_download_links(format="json")``).
        :param idempotency_key: the key to send; None makes a fresh one for this call. Pass a stable
            key (e.g. derived from the task instance) to reattach to a run an earlier try started.
        :return: the started run; ``already_started`` is True when the key matched an earlier run.
        """
        call = calls.run_call(workflow_id, webhook_payload, specs_override, save_json, idempotency_key)
        started = self.transport.request(call)
        calls.log_started(self.log, started)
        return started

    def list_runs(
        self,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
        *,
        reuse: Mapping[str, models.RunRecord] | None = None,
    ) -> list[models.RunRecord]:
        """The organisation's runs, newest first.

        :param status: ``running``, ``completed``, ``cancelled`` or ``active`` (queued or running); None for all.
        :param workflow_id: only runs of this workflow.
        :param limit: at most this many runs (1 to 500).
        :param reuse: records of an earlier call, by job id: a run the API lists unchanged comes back as
            that same object (a poller that lists the same runs again and again allocates less).
        """
        return self.transport.request(endpoints.list_runs(status, workflow_id, limit, reuse=reuse))

    def get_live_status(self, job_id: str) -> models.LiveStatus:
        """A run's status and per-block progress.

        :param job_id: the run's id, as ``run_workflow`` returned it.
        """
        return self.transport.request(endpoints.get_live_status(job_id))

    def cancel_run(self, job_id: str) -> models.CancelResult:
        """Ask for a run to stop; a finished run answers its status unchanged. Cancelling may take effect later.

        :param job_id: the run's id.
        """
        return self.transport.request(endpoints.cancel_run(job_id))

    def get_download_links(self, job_id: str, format: str = "csv") -> list[models.DownloadLink]:
        """Signed links to a run's result files, one per block; the final output has the highest ``block_number``.

        :param job_id: the run's id.
        :param format: ``csv``, or ``json`` or ``ndjson`` (one JSON object a line) for runs started with
            ``save_json=True``.
        """
        return self.transport.request(endpoints.get_download_links(job_id, format))

    def upload_csv(self, path_or_file: Any) -> str:
        """Upload a CSV for a workflow whose first block is ``read_csv``; streamed, not read into memory.

        :param path_or_file: a local path, or a binary file object (read from its current position).
        :return: the handle id, to pass as ``specs_override={"resource_handle_id": handle_id}``.
        """
        source = open_upload(path_or_file)
        try:
            handle = self.transport.request(endpoints.upload_csv(source.filename, source.content))
        finally:
            source.close()
        self.log.info("Uploaded %s to Sixtyfour as handle %s", source.filename, handle)
        return handle

    def get_workflow(self, workflow_id: str) -> models.Workflow:
        """One workflow with its blocks (to check what input it takes before a paid run).

        :param workflow_id: the workflow's id.
        """
        return self.transport.request(endpoints.get_workflow(workflow_id))

    def list_workflows(self) -> list[models.Workflow]:
        """The organisation's workflows (without their blocks)."""
        return self.transport.request(endpoints.list_workflows())

    def test_connection(self) -> tuple[bool, str]:
        """Check the key and the URL by listing workflows: ``(True, summary)`` or ``(False, what went wrong)``."""
        try:
            settings = self.settings
            workflows = self.transport.request(endpoints.list_workflows(), calls.connection_test_policy(settings))
        except SixtyfourError as err:
            return False, str(err)
        return calls.connection_test_result(settings, workflows)

    def run_url(self, job_id: str) -> str:
        """The run's page in the Sixtyfour web app (``app_url`` extra).

        :param job_id: the run's id.
        """
        return self.settings.run_url(job_id)


class SixtyfourAsyncHook(BaseHook):
    """The async twin of :class:`SixtyfourHook`, for triggers: the same methods, awaited.

    Holds one ``httpx.AsyncClient`` (one connection pool) for its whole life; use it as
    ``async with SixtyfourAsyncHook() as hook:`` or call :meth:`aclose` when done. Nothing it does
    blocks the event loop: the connection is read with ``aget_connection`` on Airflow 3 (in a
    thread on older Airflow), waits use ``asyncio.sleep``, and upload files are read in a thread.

    :param sixtyfour_conn_id: the Airflow connection to use.
    """

    def __init__(self, sixtyfour_conn_id: str = connection_form.DEFAULT_CONN_ID) -> None:
        super().__init__()
        self.sixtyfour_conn_id = sixtyfour_conn_id
        self._settings: ConnectionSettings | None = None
        self._transport: AsyncTransport | None = None
        self._open_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sixtyfour_conn_id={self.sixtyfour_conn_id!r})"

    async def __aenter__(self) -> SixtyfourAsyncHook:
        await self.get_transport()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def get_settings(self) -> ConnectionSettings:
        """The connection's settings, read without blocking (and the key masked) on first use."""
        if self._settings is None:
            self._settings = await aload_settings(self.sixtyfour_conn_id)
        return self._settings

    @property
    def settings(self) -> ConnectionSettings:
        """The settings once loaded (after ``async with`` or any call); see :meth:`get_settings`."""
        if self._settings is None:
            raise RuntimeError(
                "SixtyfourAsyncHook.settings is read only after the connection was loaded: use "
                "'async with SixtyfourAsyncHook(...) as hook:' or 'await hook.get_settings()' first"
            )
        return self._settings

    async def get_transport(self) -> AsyncTransport:
        """The transport with its one ``httpx.AsyncClient``, created on first use."""
        async with self._open_lock:
            if self._transport is None:
                from airflow_provider_sixtyfour.hooks.transport_async import AsyncTransport

                self._transport = AsyncTransport(await self.get_settings(), self.log)
            return self._transport

    async def aclose(self) -> None:
        """Close the client and its connections; the hook opens a new client if used again."""
        async with self._open_lock:
            transport, self._transport = self._transport, None
        if transport is not None:
            await transport.aclose()

    async def run_workflow(
        self,
        workflow_id: str,
        webhook_payload: list[dict[str, Any]] | dict[str, Any] | None = None,
        specs_override: dict[str, Any] | None = None,
        *,
        save_json: bool = False,
        idempotency_key: str | None = None,
    ) -> models.RunStarted:
        """Start a run; see :meth:`SixtyfourHook.run_workflow`."""
        call = calls.run_call(workflow_id, webhook_payload, specs_override, save_json, idempotency_key)
        started = await (await self.get_transport()).request(call)
        calls.log_started(self.log, started)
        return started

    async def list_runs(
        self,
        status: str | None = None,
        workflow_id: str | None = None,
        limit: int = 100,
        *,
        reuse: Mapping[str, models.RunRecord] | None = None,
    ) -> list[models.RunRecord]:
        """The organisation's runs, newest first (one request answers for many runs: the shared poller uses it).

        See :meth:`SixtyfourHook.list_runs`.
        """
        call = endpoints.list_runs(status, workflow_id, limit, reuse=reuse)
        return await (await self.get_transport()).request(call)

    async def get_live_status(self, job_id: str) -> models.LiveStatus:
        """A run's status and per-block progress; see :meth:`SixtyfourHook.get_live_status`."""
        return await (await self.get_transport()).request(endpoints.get_live_status(job_id))

    async def cancel_run(self, job_id: str) -> models.CancelResult:
        """Ask for a run to stop; see :meth:`SixtyfourHook.cancel_run`."""
        return await (await self.get_transport()).request(endpoints.cancel_run(job_id))

    async def get_download_links(self, job_id: str, format: str = "csv") -> list[models.DownloadLink]:
        """Signed links to a run's result files; see :meth:`SixtyfourHook.get_download_links`."""
        return await (await self.get_transport()).request(endpoints.get_download_links(job_id, format))

    async def upload_csv(self, path_or_file: Any) -> str:
        """Upload a CSV, reading the file in a thread; see :meth:`SixtyfourHook.upload_csv`."""
        source = await asyncio.to_thread(open_upload, path_or_file)
        try:
            call = endpoints.upload_csv(source.filename, source.content)
            handle = await (await self.get_transport()).request(call)
        finally:
            await asyncio.to_thread(source.close)
        self.log.info("Uploaded %s to Sixtyfour as handle %s", source.filename, handle)
        return handle

    async def get_workflow(self, workflow_id: str) -> models.Workflow:
        """One workflow with its blocks; see :meth:`SixtyfourHook.get_workflow`."""
        return await (await self.get_transport()).request(endpoints.get_workflow(workflow_id))

    async def list_workflows(self) -> list[models.Workflow]:
        """The organisation's workflows."""
        return await (await self.get_transport()).request(endpoints.list_workflows())

    async def test_connection(self) -> tuple[bool, str]:
        """Check the key and the URL; see :meth:`SixtyfourHook.test_connection`."""
        try:
            settings = await self.get_settings()
            policy = calls.connection_test_policy(settings)
            workflows = await (await self.get_transport()).request(endpoints.list_workflows(), policy)
        except SixtyfourError as err:
            return False, str(err)
        return calls.connection_test_result(settings, workflows)

    def run_url(self, job_id: str) -> str:
        """The run's page in the Sixtyfour web app; needs the settings loaded (see :attr:`settings`)."""
        return self.settings.run_url(job_id)
