"""The fault soak: many workflow runs through the operators while the emulator injects faults on every route.

Airflow's own machinery is played in-process, the way it drives operators, so that hundreds of runs
fit in a minute:

* **workers**: a thread pool of ``worker_slots`` threads calls ``execute()`` of a fresh operator
  instance per try, with a task context whose identity (dag, task, run id, map index, try number) makes
  the run operator's idempotency key; a failed try is retried with the next try number, up to
  ``task_retries`` times, with XCom cleared (a new task instance) and, for half of the runs, the task
  state store of Airflow 3.3 kept between tries (the other half reattach by replaying keys, as on
  Airflow 2.11 and 3.0-3.2);
* **the triggerer**: a task that defers hands its trigger, rebuilt from ``serialize()`` as the
  triggerer does, to ONE event loop in its own thread, where all triggers run together (so they share
  one poller per connection); the event resumes the task on a worker through the method named in the
  deferral;
* **downstream tasks**: each completed run's results are landed by ``SixtyfourDownloadResultsOperator``
  in a folder of its own; every ``cancel_every``-th run is instead started without waiting and then
  stopped by ``SixtyfourCancelRunOperator``.

Every request is real HTTP to the emulator. :class:`ClientRecorder` notes, for every HTTP client (each
hook's session and the triggerer's shared poller), when it sent each request and what it was told,
to check the rate-limit promise (see :func:`rate_limit_violations`).

Run by hand (``scripts/soak.sh``): ``python tests/reliability/soak.py --runs 2000``.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import functools
import importlib
import itertools
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # run as a script: make tests/ importable, like pytest does
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dags.support import FakeTaskInstance, FakeTaskStateStore, operator_thread_setup, task_context
from helpers.files import sha256_of

from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec
from airflow_provider_sixtyfour.emulator.faults import STORAGE_ROUTE
from airflow_provider_sixtyfour.protocol.endpoints import ALL_ROUTES

DAG_ID = "sixtyfour_soak"
RUN_ID = "soak__2026-01-01T00:00:00+00:00"

#: The API faults, each drawn at the same rate so that together they hit ``fault_rate`` of the requests.
API_FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 429, "retry_after": 1},
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 502},
    {"kind": "status", "status": 503},
    {"kind": "reset"},
    {"kind": "delay", "seconds": 0.75},
    {"kind": "lose_response"},
)
#: The storage faults (the signed download URLs).
STORAGE_FAULTS: tuple[dict[str, Any], ...] = (
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 503},
    {"kind": "reset"},
    {"kind": "delay", "seconds": 0.75},
    {"kind": "truncate", "fraction": 0.5},
    {"kind": "expire"},
)

WORKFLOWS: tuple[WorkflowSpec, ...] = (
    WorkflowSpec(workflow_id="wf-soak-quick", first_block="webhook", duration_seconds=1.0),
    WorkflowSpec(workflow_id="wf-soak-steady", first_block="webhook", duration_seconds=2.0),
    WorkflowSpec(workflow_id="wf-soak-slow", first_block="webhook", duration_seconds=3.0),
    WorkflowSpec(workflow_id="wf-soak-big", first_block="webhook", duration_seconds=1.5, result_bytes=256 * 1024),
    WorkflowSpec(
        workflow_id="wf-soak-csv",
        first_block="read_csv",
        blocks=("read_csv", "enrich_company", "find_email"),
        duration_seconds=1.5,
    ),
    WorkflowSpec(workflow_id="wf-soak-long", first_block="webhook", duration_seconds=600.0),
)


@dataclass(frozen=True)
class SoakConfig:
    """What the soak does.

    :param runs: workflow runs to start (each exactly once).
    :param fault_rate: share of the requests on each route that get a fault.
    :param seed: seeds every fault rule, so which requests fail is reproducible.
    :param worker_slots: worker threads (tasks running ``execute`` at once; deferred tasks hold none).
    :param deferrable_every: every this many runs, one waits in the triggerer instead of a worker.
    :param csv_every: every this many runs, one uploads a CSV (a ``read_csv`` workflow).
    :param big_every: every this many runs, one has 256 KiB result files.
    :param cancel_every: every this many runs, one is started without waiting and then cancelled.
    :param task_retries: Airflow task retries of each task (the task retry budget).
    :param poll_interval: the run operator's and the trigger's poll interval.
    :param rate_limit: requests per key the emulator accepts in each ``rate_window``; None for no limit.
    :param rate_window: the rate-limit window in seconds.
    :param hang_guard: seconds after which the soak gives up waiting (never reached when all is well).
    """

    runs: int = 200
    fault_rate: float = 0.2
    seed: int = 64
    worker_slots: int = 24
    deferrable_every: int = 2
    csv_every: int = 5
    big_every: int = 8
    cancel_every: int = 25
    task_retries: int = 3
    poll_interval: float = 0.5
    rate_limit: int | None = 150
    rate_window: float = 2.0
    hang_guard: float = 900.0


def fault_rules(config: SoakConfig) -> list[FaultRule]:
    """Every API route gets each of :data:`API_FAULTS`, the storage each of :data:`STORAGE_FAULTS`.

    ``k`` rules at rate ``r`` each fire on ``1 - (1 - r) ** k`` of the requests, so ``r`` is chosen to make
    that ``fault_rate``. Each rule has its own seed.
    """
    rules: list[FaultRule] = []
    seeds = itertools.count(config.seed * 1000)
    for route in ALL_ROUTES:
        rate = 1 - (1 - config.fault_rate) ** (1 / len(API_FAULTS))
        rules.extend(FaultRule(route=route, rate=rate, seed=next(seeds), **fault) for fault in API_FAULTS)
    rate = 1 - (1 - config.fault_rate) ** (1 / len(STORAGE_FAULTS))
    rules.extend(FaultRule(route=STORAGE_ROUTE, rate=rate, seed=next(seeds), **fault) for fault in STORAGE_FAULTS)
    return rules


# --------------------------------------------------------------------------------------------------
# What each run does
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunPlan:
    """One run of the soak and the tasks around it."""

    index: int
    workflow_id: str
    deferrable: bool
    state_store: bool
    cancel: bool
    rows: tuple[dict[str, str], ...]

    @property
    def csv(self) -> bool:
        return self.workflow_id == "wf-soak-csv"

    @property
    def label(self) -> str:
        mode = "cancel" if self.cancel else ("deferred" if self.deferrable else "sync")
        path = "state-store" if self.state_store else "key-replay"
        return f"run {self.index} ({self.workflow_id}, {mode}, {path})"


def plan_runs(config: SoakConfig) -> list[RunPlan]:
    """The runs, mixed: sync and deferred, webhook and CSV, small and big files, reattach by store or keys."""
    plans = []
    steady = ("wf-soak-quick", "wf-soak-steady", "wf-soak-slow")
    for index in range(config.runs):
        cancel = config.cancel_every > 0 and index % config.cancel_every == config.cancel_every - 1
        if cancel:
            workflow = "wf-soak-long"
        elif config.csv_every > 0 and index % config.csv_every == 0:
            workflow = "wf-soak-csv"
        elif config.big_every > 0 and index % config.big_every == 3:
            workflow = "wf-soak-big"
        else:
            workflow = steady[index % len(steady)]
        # A read_csv run reattaches through the task state store only: replaying an earlier try's key
        # re-uploads the CSV, and the new upload handle makes the replay a different request (409);
        # see test_reattach_gaps.py.
        state_store = workflow == "wf-soak-csv" or index % 4 in (0, 1)
        rows = tuple(
            {"email": f"lead{index}-{n}@example.com", "company": f"Company {index % 17}"} for n in range(1 + index % 4)
        )
        deferrable = not cancel and config.deferrable_every > 0 and index % config.deferrable_every == 1
        plans.append(RunPlan(index, workflow, deferrable, state_store, cancel, rows))
    return plans


@dataclass
class RunOutcome:
    """What happened to one run's tasks."""

    plan: RunPlan
    job_id: str | None = None
    summary: dict[str, Any] | None = None
    landed: list[dict[str, Any]] = field(default_factory=list)
    cancel_status: str | None = None
    tries: dict[str, int] = field(default_factory=dict)
    deferrals: int = 0
    errors: list[str] = field(default_factory=list)
    failed: str | None = None
    finished: bool = False


# --------------------------------------------------------------------------------------------------
# The triggerer: one event loop for every deferred task
# --------------------------------------------------------------------------------------------------


class Triggerer:
    """Runs triggers in one event loop of its own thread, each rebuilt from its serialized form."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="soak-triggerer", daemon=True)
        self.thread.start()
        self.triggers = 0
        self.peak = 0
        self._running = 0

    def submit(self, trigger: Any) -> concurrent.futures.Future[dict[str, Any]]:
        classpath, kwargs = trigger.serialize()
        json.dumps(kwargs)  # what the database stores must be plain JSON
        self.triggers += 1
        return asyncio.run_coroutine_threadsafe(self._run(classpath, kwargs), self.loop)

    async def _run(self, classpath: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        self._running += 1
        self.peak = max(self.peak, self._running)
        try:
            module, _, name = classpath.rpartition(".")
            trigger = getattr(importlib.import_module(module), name)(**kwargs)
            async for event in trigger.run():
                return dict(event.payload)
            raise RuntimeError(f"trigger {classpath} ended without an event")
        finally:
            self._running -= 1

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(30)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        self.loop.close()


# --------------------------------------------------------------------------------------------------
# The workers: tasks with retries, deferral and resumption
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskSpec:
    """One task instance of a run: how to build its operator (anew for every try) and its identity."""

    task_id: str
    map_index: int
    make: Callable[[], Any]
    store: FakeTaskStateStore | None


class Engine:
    """Plays Airflow's scheduler, workers and triggerer for the soak's tasks."""

    def __init__(self, config: SoakConfig) -> None:
        self.config = config
        self.pool = concurrent.futures.ThreadPoolExecutor(
            config.worker_slots, thread_name_prefix="soak-worker", initializer=operator_thread_setup
        )
        self.triggerer = Triggerer()
        self.retries: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._open = 0
        self._all_done = threading.Event()

    def start_chain(self) -> None:
        with self._lock:
            self._open += 1

    def end_chain(self, outcome: RunOutcome) -> None:
        outcome.finished = True
        with self._lock:
            self._open -= 1
            if self._open == 0:
                self._all_done.set()

    def wait(self, timeout: float) -> bool:
        return self._all_done.wait(timeout)

    def run_task(
        self,
        spec: TaskSpec,
        outcome: RunOutcome,
        on_success: Callable[[Any], None],
    ) -> None:
        """Run ``spec`` with retries; call ``on_success(result)`` or end the chain as failed."""
        self.pool.submit(self._attempt, spec, outcome, on_success, 1)

    def _context(self, spec: TaskSpec, try_number: int) -> dict[str, Any]:
        ti = FakeTaskInstance(
            dag_id=DAG_ID, task_id=spec.task_id, run_id=RUN_ID, map_index=spec.map_index, try_number=try_number
        )
        return task_context(ti, spec.store)

    def _attempt(self, spec: TaskSpec, outcome: RunOutcome, on_success: Callable[[Any], None], number: int) -> None:
        outcome.tries[spec.task_id] = number
        self._step(spec, outcome, on_success, number, lambda op, ctx: op.execute(ctx))

    def _step(
        self,
        spec: TaskSpec,
        outcome: RunOutcome,
        on_success: Callable[[Any], None],
        number: int,
        call: Callable[[Any, dict[str, Any]], Any],
    ) -> None:
        from airflow.providers.common.compat.sdk import TaskDeferred

        context = self._context(spec, number)
        operator = spec.make()
        try:
            result = call(operator, context)
        except TaskDeferred as deferral:
            outcome.deferrals += 1
            resume = functools.partial(self._resume, spec, outcome, on_success, number, deferral)
            self.triggerer.submit(deferral.trigger).add_done_callback(lambda done: self.pool.submit(resume, done))
            return
        except Exception as err:
            self._failed(spec, outcome, on_success, number, err)
            return
        try:
            on_success(result)
        except Exception as err:  # a downstream check of the soak itself
            outcome.failed = f"{spec.task_id}: {type(err).__name__}: {err}"
            self.end_chain(outcome)

    def _resume(
        self,
        spec: TaskSpec,
        outcome: RunOutcome,
        on_success: Callable[[Any], None],
        number: int,
        deferred: Any,
        done: concurrent.futures.Future[dict[str, Any]],
    ) -> None:
        try:
            event = done.result()
        except Exception as err:
            self._failed(spec, outcome, on_success, number, err)
            return
        kwargs = dict(deferred.kwargs or {})

        def resume(operator: Any, context: dict[str, Any]) -> Any:
            return getattr(operator, deferred.method_name)(context, event=event, **kwargs)

        self._step(spec, outcome, on_success, number, resume)

    def _failed(
        self, spec: TaskSpec, outcome: RunOutcome, on_success: Callable[[Any], None], number: int, err: BaseException
    ) -> None:
        outcome.errors.append(f"{spec.task_id} try {number}: {type(err).__name__}: {err}")
        if number <= self.config.task_retries:
            with self._lock:
                self.retries[spec.task_id] += 1
            self.pool.submit(self._attempt, spec, outcome, on_success, number + 1)
        else:
            outcome.failed = f"{spec.task_id} failed after {number} tries: {type(err).__name__}: {err}"
            self.end_chain(outcome)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.triggerer.stop()


# --------------------------------------------------------------------------------------------------
# Every HTTP client's requests, for the rate-limit check
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One request of one client: when it was sent and answered, and what the answer told the client.

    :param client: the HTTP client (a transport: one hook's session, or the shared poller's client).
    :param call: the API call object (the same for every retry of one call).
    :param route: the route template.
    :param start: monotonic time the request was handed to the HTTP library.
    :param end: monotonic time the answer (or the failure) came back.
    :param status: the HTTP status, or 0 without an answer.
    :param told_wait: seconds the answer asked the client to keep quiet (a 429's ``Retry-After``, or
        ``X-RateLimit-Reset`` with ``X-RateLimit-Remaining: 0``); 0 when it asked nothing.
    :param limiter: the answer came from the emulator's rate limiter (it sends ``X-RateLimit-Limit``),
        not from an injected fault.
    :param gate_wait: how long the client's own rate-limit gate still asked to wait when it sent (a
        diagnostic: positive means the client knew and sent anyway).
    """

    client: int
    call: int
    route: str
    start: float
    end: float
    status: int
    told_wait: float
    limiter: bool
    gate_wait: float = 0.0


def _told_wait(status: int, headers: Any) -> float:
    def number(name: str) -> float | None:
        value = headers.get(name)
        try:
            return None if value is None else float(value)
        except ValueError:
            return None

    retry_after = number("Retry-After")
    if status == 429 and retry_after is not None:
        return retry_after
    if status == 429 or number("X-RateLimit-Remaining") == 0:
        return number("X-RateLimit-Reset") or 0.0
    return 0.0


class ClientRecorder:
    """Notes every request every transport sends (wrapping ``_send`` of the sync and async transports)."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def _client_id(self, transport: Any) -> int:
        ident = transport.__dict__.get("_soak_client")
        if ident is None:
            with self._lock:
                ident = transport.__dict__.setdefault("_soak_client", next(self._ids))
        return int(ident)

    def _note(self, transport: Any, call: Any, start: float, gate_wait: float, outcome: Any) -> None:
        status = int(getattr(outcome, "status_code", 0))
        headers = getattr(outcome, "headers", {}) or {}
        sent = Sent(
            client=self._client_id(transport),
            call=id(call),
            route=call.route,
            start=start,
            end=time.monotonic(),
            status=status,
            told_wait=_told_wait(status, headers) if status else 0.0,
            limiter=status == 429 and headers.get("X-RateLimit-Limit") is not None,
            gate_wait=gate_wait,
        )
        with self._lock:
            self.sent.append(sent)

    @contextmanager
    def recording(self) -> Iterator[ClientRecorder]:
        from airflow_provider_sixtyfour.hooks.transport_async import AsyncTransport
        from airflow_provider_sixtyfour.hooks.transport_sync import SyncTransport

        sync_send, async_send = SyncTransport._send, AsyncTransport._send
        recorder = self

        def send(transport: Any, call: Any) -> Any:
            start, gate_wait = time.monotonic(), transport.gate.delay()
            outcome = sync_send(transport, call)
            recorder._note(transport, call, start, gate_wait, outcome)
            return outcome

        async def asend(transport: Any, call: Any) -> Any:
            start, gate_wait = time.monotonic(), transport.gate.delay()
            outcome = await async_send(transport, call)
            recorder._note(transport, call, start, gate_wait, outcome)
            return outcome

        SyncTransport._send = send  # type: ignore[method-assign,assignment]
        AsyncTransport._send = asend  # type: ignore[method-assign,assignment]
        try:
            yield self
        finally:
            SyncTransport._send = sync_send  # type: ignore[method-assign]
            AsyncTransport._send = async_send  # type: ignore[method-assign]


#: Another request of the client may have checked the gate just before the answer reached it and be sent
#: just after: that request was already on its way. Beyond this, a request counts as sent after being told
#: even if the client's own gate had not heard (a client that fails to take note is caught this way).
UNAWARE_SLACK = 0.5
#: Clock granularity.
EPSILON = 0.005


def rate_limit_violations(sent: list[Sent]) -> list[str]:
    """Requests a client sent while it had been told to wait.

    The promise, made precise: once a client has been told the limit is reached (a 429 and its
    ``Retry-After``, or ``X-RateLimit-Remaining: 0`` and ``X-RateLimit-Reset``), it sends nothing to the
    API until the time it was told has passed: not the retry of that request, and no other request
    (requests already on their way at that moment excepted: those that passed the client's gate before
    the answer reached it). Clients do not share what they learn (like separate Airflow workers), so
    several may each be refused once when a window fills up.
    """
    problems = []
    by_client: defaultdict[int, list[Sent]] = defaultdict(list)
    for item in sent:
        by_client[item.client].append(item)
    for client, items in by_client.items():
        items.sort(key=lambda s: s.start)
        for told in (s for s in items if s.told_wait > 0):
            quiet_until = told.end + told.told_wait - EPSILON
            for later in items:
                if later.start <= told.end or later.start >= quiet_until:
                    continue
                same_call = later.call == told.call
                knew = later.gate_wait > EPSILON  # its own gate said wait, and it sent anyway
                if same_call or knew or later.start > told.end + UNAWARE_SLACK:
                    problems.append(
                        f"client {client} sent {later.route} {later.start - told.end:.3f} s after being told to wait "
                        f"{told.told_wait:g} s (HTTP {told.status} on {told.route}; "
                        f"{'the retry' if same_call else 'another request'}; its own gate said wait "
                        f"{later.gate_wait:.3f} s)"
                    )
    return problems


# --------------------------------------------------------------------------------------------------
# The soak
# --------------------------------------------------------------------------------------------------


@dataclass
class SoakResult:
    """Everything the soak saw, to check and to report."""

    config: SoakConfig
    outcomes: list[RunOutcome]
    stats: dict[str, Any]
    faults: list[dict[str, Any]]
    sent: list[Sent]
    seconds: float
    task_retries: dict[str, int]
    triggers: int
    peak_triggers: int
    landing: Path


class Soak:
    """Runs the soak against ``emulator`` through connection ``conn_id``, landing files under ``root``."""

    def __init__(self, config: SoakConfig, emulator: EmulatorServer, conn_id: str, root: Path) -> None:
        self.config = config
        self.emulator = emulator
        self.conn_id = conn_id
        self.root = root
        self.landing = root / "landing"
        self.inputs = root / "inputs"

    def prepare(self) -> None:
        """Serve the soak's workflows, arm the faults and the rate limit."""
        for spec in WORKFLOWS:
            self.emulator.add_workflow(spec)
        self.emulator.set_rate_limit(self.config.rate_limit, self.config.rate_window)
        for rule in fault_rules(self.config):
            self.emulator.add_fault(rule)
        self.landing.mkdir(parents=True, exist_ok=True)
        self.inputs.mkdir(parents=True, exist_ok=True)

    def run(self) -> SoakResult:
        self.prepare()
        plans = plan_runs(self.config)
        outcomes = [RunOutcome(plan) for plan in plans]
        engine = Engine(self.config)
        recorder = ClientRecorder()
        began = time.monotonic()
        with recorder.recording():
            try:
                for _ in outcomes:
                    engine.start_chain()
                for outcome in outcomes:
                    self._start(engine, outcome)
                if not engine.wait(self.config.hang_guard):
                    pending = [o.plan.label for o in outcomes if not o.finished][:10]
                    raise AssertionError(f"the soak did not finish within {self.config.hang_guard:.0f} s: {pending}")
            finally:
                engine.close()
        seconds = time.monotonic() - began
        faults = _fault_counts(self.emulator)
        self.emulator.clear_faults()
        return SoakResult(
            config=self.config,
            outcomes=outcomes,
            stats=self.emulator.stats(),
            faults=faults,
            sent=list(recorder.sent),
            seconds=seconds,
            task_retries=dict(engine.retries),
            triggers=engine.triggerer.triggers,
            peak_triggers=engine.triggerer.peak,
            landing=self.landing,
        )

    # -- one run's tasks -------------------------------------------------------------------------

    def _start(self, engine: Engine, outcome: RunOutcome) -> None:
        from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

        plan = outcome.plan
        store = FakeTaskStateStore() if plan.state_store else None
        params: dict[str, Any] = {
            "task_id": "enrich",
            "workflow_id": plan.workflow_id,
            "deferrable": plan.deferrable,
            "poll_interval": self.config.poll_interval,
            "timeout": 600,
            "wait_for_completion": not plan.cancel,
            "sixtyfour_conn_id": self.conn_id,
        }
        if plan.csv:
            path = self.inputs / f"companies-{plan.index:05d}.csv"
            lines = ["company,domain", *(f"{r['company']} {n},c{plan.index}-{n}.test" for n, r in enumerate(plan.rows))]
            path.write_text("\n".join(lines) + "\n")
            params["input_csv"] = path.as_uri()
        else:
            params["webhook_payload"] = [dict(row) for row in plan.rows]

        def started(summary: dict[str, Any]) -> None:
            outcome.job_id = summary["job_id"]
            outcome.summary = summary
            if plan.cancel:
                self._cancel(engine, outcome)
            else:
                self._land(engine, outcome)

        spec = TaskSpec("enrich", plan.index, lambda: SixtyfourRunWorkflowOperator(**params), store)
        engine.run_task(spec, outcome, started)

    def _land(self, engine: Engine, outcome: RunOutcome) -> None:
        from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourDownloadResultsOperator
        from airflow_provider_sixtyfour.transfers import DownloadOptions

        assert outcome.job_id is not None
        destination = (self.landing / f"run-{outcome.plan.index:05d}").as_uri() + "/"
        job_id = outcome.job_id

        def make() -> Any:
            return SixtyfourDownloadResultsOperator(
                task_id="land",
                job_id=job_id,
                destination=destination,
                max_concurrency=3,
                max_attempts=4,
                download_options=DownloadOptions(retry_wait=0.2, fsync=False),
                sixtyfour_conn_id=self.conn_id,
            )

        def landed(records: list[dict[str, Any]]) -> None:
            outcome.landed = records
            engine.end_chain(outcome)

        engine.run_task(TaskSpec("land", outcome.plan.index, make, None), outcome, landed)

    def _cancel(self, engine: Engine, outcome: RunOutcome) -> None:
        from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourCancelRunOperator

        job_id = outcome.job_id
        assert job_id is not None

        def make() -> Any:
            return SixtyfourCancelRunOperator(
                task_id="cancel", job_id=job_id, poll_interval=0.2, timeout=120, sixtyfour_conn_id=self.conn_id
            )

        def cancelled(status: str) -> None:
            outcome.cancel_status = status
            engine.end_chain(outcome)

        engine.run_task(TaskSpec("cancel", outcome.plan.index, make, None), outcome, cancelled)


def _fault_counts(emulator: EmulatorServer) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"{emulator.base_url}/_emulator/faults", timeout=30) as answer:
        return list(json.loads(answer.read()))


# --------------------------------------------------------------------------------------------------
# Checks and figures
# --------------------------------------------------------------------------------------------------


def result_filenames(workflow_id: str) -> list[str]:
    """The result files a completed run of the workflow has: one CSV per block."""
    (spec,) = [spec for spec in WORKFLOWS if spec.workflow_id == workflow_id]
    return [f"block_{number:02d}_{block}.csv" for number, block in enumerate(spec.block_names, start=1)]


def problems(result: SoakResult, emulator: EmulatorServer) -> list[str]:
    """Everything that broke a promise; empty when the soak passed."""
    found: list[str] = []
    outcomes = result.outcomes
    for outcome in outcomes:
        if outcome.failed or not outcome.finished:
            found.append(f"{outcome.plan.label}: {outcome.failed or 'unfinished'}; errors: {outcome.errors[-3:]}")
    # Deferrable runs waited in the triggerer (unless a retry found the run already finished), the others
    # in a worker.
    for outcome in outcomes:
        retried = outcome.tries.get("enrich", 1) > 1
        if outcome.deferrals > 0 and not outcome.plan.deferrable:
            found.append(f"{outcome.plan.label}: deferred {outcome.deferrals} times")
        if outcome.deferrals == 0 and outcome.plan.deferrable and not retried:
            found.append(f"{outcome.plan.label}: never deferred")
    # Exactly one run per planned run: no duplicate was started by retries, replays or lost answers.
    job_ids = [o.job_id for o in outcomes if o.job_id]
    if result.stats["runs_started"] != result.config.runs:
        found.append(f"the emulator started {result.stats['runs_started']} runs, not {result.config.runs}")
    if len(set(job_ids)) != len(job_ids) or len(job_ids) != result.config.runs:
        found.append(f"{len(job_ids)} job ids ({len(set(job_ids))} distinct) for {result.config.runs} runs")
    # Every landed file is the bytes the emulator served, and nothing else is anywhere under the landing.
    expected: set[Path] = set()
    for outcome in outcomes:
        if outcome.plan.cancel or outcome.failed or outcome.job_id is None:
            continue
        folder = result.landing / f"run-{outcome.plan.index:05d}"
        names = result_filenames(outcome.plan.workflow_id)
        landed = sorted(r["filename"] for r in outcome.landed)
        if landed != names:
            found.append(f"{outcome.plan.label}: landed {landed}, the run has {names}")
        for name in names:
            path = folder / name
            expected.add(path)
            if not path.is_file():
                found.append(f"{outcome.plan.label}: {name} is missing")
                continue
            served = emulator.file_sha256(outcome.job_id, name)
            if sha256_of(path) != served:
                found.append(f"{outcome.plan.label}: {name} differs from what the emulator served")
        for record in outcome.landed:
            digest = record.get("sha256")  # None unless the download computed it
            if digest is not None and digest != emulator.file_sha256(outcome.job_id, record["filename"]):
                found.append(f"{outcome.plan.label}: the landed record of {record['filename']} has a wrong sha256")
    for path in sorted(result.landing.rglob("*")):
        if path.is_file() and path not in expected:
            found.append(f"an unexpected file under the landing folder: {path.relative_to(result.landing)}")
    # Cancelled runs are cancelled.
    for outcome in outcomes:
        if outcome.plan.cancel and not outcome.failed:
            run = emulator.get_run(outcome.job_id or "")
            if outcome.cancel_status != "cancelled" or run is None or run["status"] != "cancelled":
                found.append(f"{outcome.plan.label}: cancel task said {outcome.cancel_status!r}, the run is {run}")
    # The rate limit: nobody sent while told to wait; every 429 the clients saw is one the emulator sent.
    found.extend(rate_limit_violations(result.sent))
    limiter_429 = sum(1 for s in result.sent if s.limiter)
    injected_429 = sum(1 for s in result.sent if s.status == 429 and not s.limiter)
    refused = sum(result.stats["rate_limited"].values())
    fired_429 = sum(f["fired"] for f in result.faults if f["kind"] == "status" and f["status"] == 429)
    if limiter_429 != refused:
        found.append(f"clients saw {limiter_429} rate-limiter 429s, the emulator sent {refused}")
    if injected_429 != fired_429:
        found.append(f"clients saw {injected_429} injected 429s, the emulator injected {fired_429}")
    # Faults really hit every route the operators use.
    used = {route for route, per_key in result.stats["requests"].items() if sum(per_key.values()) > 0}
    for route in sorted(used & {*ALL_ROUTES, STORAGE_ROUTE}):
        fired = sum(f["fired"] for f in result.faults if f["route"] == route)
        if fired == 0:
            found.append(f"no fault fired on {route}")
    return found


def retry_reasons(outcomes: list[RunOutcome]) -> Counter[str]:
    """Why tasks needed a retry: ``"<task>: <exception class>"`` counted over every failed try."""
    reasons: Counter[str] = Counter()
    for outcome in outcomes:
        for error in outcome.errors:
            task, _, rest = error.partition(" try ")
            reasons[f"{task}: {rest.partition(': ')[2].partition(':')[0]}"] += 1
    return reasons


def figures(result: SoakResult) -> dict[str, Any]:
    """The numbers worth reporting."""
    stats = result.stats
    runs = result.config.runs
    api_requests = sum(sum(per_key.values()) for route, per_key in stats["requests"].items() if route in ALL_ROUTES)
    storage_requests = sum(stats["requests"].get(STORAGE_ROUTE, {}).values())
    fired_by_kind: Counter[str] = Counter()
    for fault in result.faults:
        kind = f"{fault['kind']} {fault['status']}" if fault["kind"] == "status" else fault["kind"]
        fired_by_kind[kind] += fault["fired"]
    sent_by_client = Counter(s.client for s in result.sent)
    told = [s for s in result.sent if s.told_wait > 0]
    return {
        "runs": runs,
        "seconds": round(result.seconds, 1),
        "runs_per_minute": round(runs / result.seconds * 60, 1),
        "runs_started": stats["runs_started"],
        "idempotent_replays": stats["idempotent_replays"],
        "api_requests": api_requests,
        "api_requests_per_run": round(api_requests / runs, 1),
        "api_requests_per_second": round(api_requests / result.seconds, 1),
        "storage_requests": storage_requests,
        "requests_by_route": {route: sum(k.values()) for route, k in sorted(stats["requests"].items())},
        "faults_fired": sum(fired_by_kind.values()),
        "faults_by_kind": dict(sorted(fired_by_kind.items())),
        "fault_share_of_requests": round(sum(fired_by_kind.values()) / max(1, api_requests + storage_requests), 3),
        "rate_limit": f"{result.config.rate_limit} per {result.config.rate_window:g} s per key"
        if result.config.rate_limit
        else "off",
        "rate_limiter_429s": sum(stats["rate_limited"].values()),
        "told_to_wait": len(told),
        "http_clients": len(sent_by_client),
        "task_retries": result.task_retries,
        "task_retry_reasons": dict(retry_reasons(result.outcomes).most_common()),
        "triggers": result.triggers,
        "peak_triggers_at_once": result.peak_triggers,
        "files_landed": sum(len(o.landed) for o in result.outcomes),
        "bytes_served": stats["bytes_served"],
        "downloads_started": stats["downloads_started"],
        "downloads_completed": stats["downloads_completed"],
    }


# --------------------------------------------------------------------------------------------------
# By hand: scripts/soak.sh
# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The long fault soak against a local emulator; prints figures.")
    defaults = SoakConfig()
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--fault-rate", type=float, default=defaults.fault_rate)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--workers", type=int, default=defaults.worker_slots)
    parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit, help="requests per window; 0: off")
    parser.add_argument("--rate-window", type=float, default=defaults.rate_window)
    parser.add_argument("--poll-interval", type=float, default=defaults.poll_interval)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args(argv)
    config = SoakConfig(
        runs=args.runs,
        fault_rate=args.fault_rate,
        seed=args.seed,
        worker_slots=args.workers,
        rate_limit=args.rate_limit or None,
        rate_window=args.rate_window,
        poll_interval=args.poll_interval,
        hang_guard=max(900.0, args.runs * 3.0),
    )
    key = "sk-soak-" + os.urandom(12).hex()
    with tempfile.TemporaryDirectory(prefix="sixtyfour-soak-") as folder, EmulatorServer(api_keys=[key]) as emulator:
        os.environ["AIRFLOW_CONN_SIXTYFOUR_SOAK"] = json.dumps(
            {
                "conn_type": "sixtyfour",
                "host": emulator.base_url,
                "password": key,
                "extra": {"backoff_base": 0.05, "timeout": 10},
            }
        )
        if not args.json:
            print(f"soak: {config.runs} runs, {config.fault_rate:.0%} faults on every route, seed {config.seed}")
        result = Soak(config, emulator, "sixtyfour_soak", Path(folder)).run()
        found = problems(result, emulator)
        numbers = figures(result)
    if args.json:
        print(json.dumps({"figures": numbers, "problems": found}, indent=2))
    else:
        for name, value in numbers.items():
            print(f"  {name}: {value}")
        print("PASSED: every promise held" if not found else f"FAILED: {len(found)} problem(s)")
        for problem in found[:50]:
            print(f"  - {problem}")
    return 0 if not found else 1


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.WARNING)
    sys.exit(main())
