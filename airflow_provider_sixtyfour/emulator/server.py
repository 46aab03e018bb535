"""Run the emulator on its own event loop in a background thread: in-process for pytest, or for the CLI."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from airflow_provider_sixtyfour.emulator.core import DEFAULT_CREDIT_BALANCE, EmulatorCore
from airflow_provider_sixtyfour.emulator.faults import FaultRule
from airflow_provider_sixtyfour.emulator.specs import DEFAULT_WORKFLOWS, WorkflowSpec
from airflow_provider_sixtyfour.emulator.stats import key_label
from airflow_provider_sixtyfour.emulator.webhook_settings import WebhookSettings
from airflow_provider_sixtyfour.protocol.webhooks import DEFAULT_ROTATION_OVERLAP_SECONDS

T = TypeVar("T")
_CALL_TIMEOUT = 60.0


class EmulatorServer:
    """A local Sixtyfour Workflows API, for demos, tests and your own DAG tests.

    It serves the API's routes over real HTTP on ``host:port`` from a background thread with its
    own event loop; point a ``sixtyfour`` connection's host at :attr:`base_url` and its password at
    one of ``api_keys``. Runs advance in wall time (scaled by ``time_scale``); result files are
    served from signed URLs of the emulator itself.

    Example::

        with EmulatorServer(api_keys=["test-key"], time_scale=0.1) as server:
            os.environ["AIRFLOW_CONN_SIXTYFOUR_DEFAULT"] = json.dumps(
                {"conn_type": "sixtyfour", "host": server.base_url, "password": "test-key"}
            )
            ...  # run your DAG; then inspect server.stats(), server.runs_started()

    :param api_keys: keys accepted in ``x-api-key`` (all in one organisation), or a mapping of key to
        organisation id (runs, uploads and run lists are per organisation).
    :param host: the address to listen on; only ever this one (default loopback).
    :param port: the TCP port; 0 picks a free one (see :attr:`port`).
    :param workflows: the workflows to serve; None serves :data:`DEFAULT_WORKFLOWS`.
    :param rate_limit_per_minute: requests each key may make per window (sliding); None disables the limit.
    :param rate_limit_window_seconds: the rate-limit window (60 s like the API; shorter for tests).
    :param time_scale: multiplies every workflow's durations (0.1 makes runs ten times faster).
    :param cancel_delay_seconds: how long after a cancel request an in-flight run becomes cancelled.
    :param link_ttl_seconds: how long signed download URLs stay valid (900 like the API).
    :param credit_balance: each organisation's credits (None: unlimited); runs cost ``WorkflowSpec.credit_cost``.
    :param seed: makes fault draws reproducible.
    :param faults: fault rules armed from the start.
    :param webhooks: how deliveries to workflows' ``outgoing_webhook`` URLs are signed and retried
        (signing secrets, rotation overlap, tries, backoff, answer timeout); default unsigned, 6 tries.
    """

    def __init__(
        self,
        api_keys: Sequence[str] | Mapping[str, str] = ("emulator-dev-key",),
        host: str = "127.0.0.1",
        port: int = 0,
        workflows: Iterable[WorkflowSpec] | None = None,
        rate_limit_per_minute: int | None = 500,
        *,
        rate_limit_window_seconds: float = 60.0,
        time_scale: float = 1.0,
        cancel_delay_seconds: float = 0.2,
        link_ttl_seconds: float = 900.0,
        credit_balance: float | None = DEFAULT_CREDIT_BALANCE,
        seed: int | None = None,
        faults: Iterable[FaultRule] = (),
        webhooks: WebhookSettings | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self._core = EmulatorCore(
            api_keys,
            DEFAULT_WORKFLOWS if workflows is None else workflows,
            rate_limit_per_minute=rate_limit_per_minute,
            rate_limit_window_seconds=rate_limit_window_seconds,
            time_scale=time_scale,
            cancel_delay_seconds=cancel_delay_seconds,
            link_ttl_seconds=link_ttl_seconds,
            credit_balance=credit_balance,
            seed=seed,
            faults=faults,
            webhooks=webhooks,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._port: int | None = None

    @classmethod
    def from_config(cls, path: str | Path, **overrides: Any) -> EmulatorServer:
        """An emulator configured from a JSON file (see :mod:`airflow_provider_sixtyfour.emulator.config`)."""
        from airflow_provider_sixtyfour.emulator.config import load_config

        kwargs = load_config(path)
        kwargs.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**kwargs)

    def __repr__(self) -> str:
        state = f"listening on {self.base_url}" if self.running else "stopped"
        return f"<EmulatorServer {state}, {len(self._core.keys)} key(s)>"

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between :meth:`start` and :meth:`stop`."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started: call start() first")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``, the value for a connection's host."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> EmulatorServer:
        """Bind the port and serve from a background thread; returns once it accepts connections."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        family, kind, proto, _, address = socket.getaddrinfo(self.host, self._requested_port, type=socket.SOCK_STREAM)[
            0
        ]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._port = int(sock.getsockname()[1])
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._serve, args=(ready, failure), name=f"sixtyfour-emulator-{self._port}", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"the emulator failed to start: {failure[0]}") from failure[0]
        return self

    def _serve(self, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            runner = loop.run_until_complete(self._setup())
        except BaseException as err:  # reported to start()
            failure.append(err)
            ready.set()
            loop.close()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            # Handlers still running (a delay fault, a slow download) are cancelled, not abandoned.
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _setup(self) -> Any:
        from aiohttp import web

        from airflow_provider_sixtyfour.emulator.app import build_app

        assert self._sock is not None
        runner = web.AppRunner(build_app(self._core), handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        await web.SockSite(runner, self._sock, backlog=1024).start()
        return runner

    def stop(self) -> None:
        """Stop serving, close connections and delete uploaded files. Safe to call twice."""
        thread, loop = self._thread, self._loop
        if thread is not None and loop is not None and thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout=30)
        self._thread = None
        self._loop = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._core.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _call(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the server's loop thread (where all state lives) and return its result."""
        loop = self._loop
        if loop is None or not self.running:
            return func()

        async def call() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(call(), loop).result(_CALL_TIMEOUT)

    # ---- configuration --------------------------------------------------------------------------

    def add_workflow(self, spec: WorkflowSpec) -> None:
        """Serve ``spec`` (replacing a workflow with the same id)."""
        self._call(lambda: self._core.add_workflow(spec))

    def add_fault(self, rule: FaultRule) -> FaultRule:
        """Arm a fault; it fires on matching requests until its ``count`` is used up or faults are cleared."""
        self._call(lambda: self._core.add_fault(rule))
        return rule

    def clear_faults(self) -> None:
        """Disarm every fault."""
        self._call(self._core.faults.clear)

    def set_rate_limit(self, per_minute: int | None, window_seconds: float | None = None) -> None:
        """Change the per-key rate limit (None or 0 disables it); counts start afresh."""
        self._call(lambda: self._core.set_rate_limit(per_minute, window_seconds))

    def set_credit_balance(self, balance: float | None, org_id: str | None = None) -> None:
        """Set the credits of one organisation or of all (None: unlimited)."""
        self._call(lambda: self._core.set_credit_balance(balance, org_id))

    def reset(self) -> None:
        """Forget runs, uploads, idempotency keys, faults and counters (workflows and settings stay)."""
        self._call(self._core.reset)

    def rotate_webhook_secret(self, new_secret: str, overlap_seconds: float = DEFAULT_ROTATION_OVERLAP_SECONDS) -> None:
        """Sign deliveries with ``new_secret`` from now on, and with the current one too for ``overlap_seconds``."""
        self._call(lambda: self._core.webhooks.rotate(new_secret, overlap_seconds))

    # ---- inspection -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters: ``requests`` ({route template: {key fingerprint: count}}), ``runs_started``,
        ``rate_limited``, ``faults_fired``, ``idempotent_replays``, ``cancel_requests``, downloads and more."""
        return self._call(self._core.stats_dict)

    def request_count(self, route: str | None = None, api_key: str | None = None) -> int:
        """Requests counted on ``route`` (a route template; all when None), optionally from one key."""

        def count() -> int:
            stats = self._core.stats
            if api_key is None:
                return stats.total(route)
            label = key_label(api_key)
            routes = [route] if route is not None else list(stats.requests)
            return sum(stats.requests[r][label] for r in routes if r in stats.requests)

        return self._call(count)

    def runs_started(self) -> int:
        """Runs created (idempotent replays excluded)."""
        return self._call(lambda: self._core.stats.runs_started)

    def webhook_attempts(self) -> list[dict[str, Any]]:
        """Every delivery try so far: ``event_id``, ``run_id``, ``workflow_id``, ``attempt``, ``outcome`` (the
        receiver's status, ``"lost"`` or ``"dropped"``), ``signatures`` (``v1=`` values) and ``copies``."""
        return self._call(self._core.webhooks.describe)

    def get_run(self, job_id: str) -> dict[str, Any] | None:
        """Everything about a run (its list record plus internals such as ``cancel_requests``), or None."""

        def snapshot() -> dict[str, Any] | None:
            run = self._core.store.runs.get(job_id)
            return None if run is None else self._core.store.snapshot(run, time.time())

        return self._call(snapshot)

    def cancel_requests(self, job_id: str) -> int:
        """How many cancel requests the run received."""

        def count() -> int:
            run = self._core.store.runs.get(job_id)
            return 0 if run is None else run.cancel_requests

        return self._call(count)

    def file_sha256(self, job_id: str, filename: str) -> str:
        """The SHA-256 of exactly the bytes served for a run's result file (computed here, off the loop)."""
        file = self._call(lambda: self._core.result_file(job_id, filename))
        if file is None:
            raise KeyError(f"run {job_id} has no result file {filename!r} (yet)")
        return self._core.files.sha256(file)

    def file_bytes(self, job_id: str, filename: str) -> bytes:
        """The whole content of a result file (for small files in tests)."""
        file = self._call(lambda: self._core.result_file(job_id, filename))
        if file is None:
            raise KeyError(f"run {job_id} has no result file {filename!r} (yet)")
        files = self._core.files
        return b"".join(files.iter_bytes(file, files.layout(file)))

    @staticmethod
    def key_label(api_key: str) -> str:
        """The fingerprint that labels ``api_key`` in :meth:`stats` (never the key itself)."""
        return key_label(api_key)
