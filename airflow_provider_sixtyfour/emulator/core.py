"""The emulator's state and settings, independent of the HTTP server that exposes them."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_sixtyfour.emulator.deliveries import WebhookDispatcher
from airflow_provider_sixtyfour.emulator.faults import FaultBook, FaultRule
from airflow_provider_sixtyfour.emulator.ratelimit import SlidingWindowLimiter
from airflow_provider_sixtyfour.emulator.results import FileGenerator, ResultFile
from airflow_provider_sixtyfour.emulator.signing import UrlSigner
from airflow_provider_sixtyfour.emulator.specs import WorkflowSpec
from airflow_provider_sixtyfour.emulator.state import Store
from airflow_provider_sixtyfour.emulator.stats import Stats, key_label
from airflow_provider_sixtyfour.emulator.webhook_settings import WebhookSettings
from airflow_provider_sixtyfour.protocol.endpoints import RESULT_FORMATS, SAVE_JSON_FORMATS

DEFAULT_ORG = "org-emulator"
DEFAULT_CREDIT_BALANCE = 1_000_000.0
DEFAULT_BUCKET = "sixtyfour-workflow-results"


def _key_map(api_keys: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(api_keys, str):
        raise TypeError("api_keys must be a list of keys (or a mapping of key to organisation id), not one string")
    if isinstance(api_keys, Mapping):
        keys = {str(k): str(v) for k, v in api_keys.items()}
    else:
        keys = {str(k): DEFAULT_ORG for k in api_keys}
    if not keys or any(not k for k in keys):
        raise ValueError("the emulator needs at least one non-empty API key")
    return keys


class EmulatorCore:
    """Workflows, runs, faults, the rate limit and counters of one emulator (used on its loop thread).

    See :class:`~airflow_provider_sixtyfour.emulator.server.EmulatorServer` for the parameters.
    """

    def __init__(
        self,
        api_keys: Sequence[str] | Mapping[str, str],
        workflows: Iterable[WorkflowSpec],
        *,
        rate_limit_per_minute: int | None = 500,
        rate_limit_window_seconds: float = 60.0,
        time_scale: float = 1.0,
        cancel_delay_seconds: float = 0.2,
        link_ttl_seconds: float = 900.0,
        credit_balance: float | None = DEFAULT_CREDIT_BALANCE,
        seed: int | None = None,
        storage_bucket: str = DEFAULT_BUCKET,
        faults: Iterable[FaultRule] = (),
        webhooks: WebhookSettings | None = None,
    ) -> None:
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        if link_ttl_seconds <= 0:
            raise ValueError("link_ttl_seconds must be positive")
        if cancel_delay_seconds < 0:
            raise ValueError("cancel_delay_seconds must not be negative")
        self.keys = _key_map(api_keys)
        self.labels = {key: key_label(key) for key in self.keys}
        self.started_at = time.time()
        self._initial_workflows = tuple(workflows)
        self._initial_faults = tuple(faults)
        self.seed = seed
        self.time_scale = time_scale
        self.cancel_delay = cancel_delay_seconds
        self.link_ttl = link_ttl_seconds
        self.credit_balance = credit_balance
        self.bucket = storage_bucket
        self.window = rate_limit_window_seconds
        self.limiter: SlidingWindowLimiter | None = None
        self.set_rate_limit(rate_limit_per_minute, rate_limit_window_seconds)
        self.signer = UrlSigner()
        self.files = FileGenerator()
        self.stats = Stats()
        self._upload_dir: Path | None = None
        self.store = self._new_store()
        self.faults = FaultBook(seed)
        for rule in self._initial_faults:
            self.faults.add(rule)
        self.webhooks = WebhookDispatcher(self, webhooks)

    def _new_store(self) -> Store:
        store = Store(
            {},
            time_scale=self.time_scale,
            cancel_delay=self.cancel_delay,
            credit_balance=self.credit_balance,
        )
        for spec in self._initial_workflows:
            store.add_workflow(spec, self.started_at)
        return store

    # ---- settings -------------------------------------------------------------------------------

    def set_rate_limit(self, per_window: int | None, window_seconds: float | None = None) -> None:
        """Limit each API key to ``per_window`` requests per window (None or 0: no limit)."""
        if window_seconds is not None:
            self.window = window_seconds
        self.limiter = SlidingWindowLimiter(per_window, self.window) if per_window else None

    def add_workflow(self, spec: WorkflowSpec) -> None:
        self.store.add_workflow(spec, time.time())

    def add_fault(self, rule: FaultRule) -> None:
        self.faults.add(rule)

    def set_credit_balance(self, balance: float | None, org_id: str | None = None) -> None:
        """Set the credit balance of one organisation, or of all (and the default for new ones)."""
        if org_id is None:
            self.credit_balance = balance
            self.store.default_credit_balance = balance
            for org in self.store.orgs.values():
                org.credit_balance = balance
        else:
            self.store.org(org_id).credit_balance = balance

    def reset(self) -> None:
        """Forget runs, uploads, idempotency keys, faults and counters; keep workflows and settings."""
        workflows = dict(self.store.workflows)
        self.store = self._new_store()
        for spec in workflows.values():
            self.store.add_workflow(spec, self.started_at)
        self.faults.clear()
        self.stats.reset()
        self.webhooks.cancel_pending()

    # ---- helpers for the routes and the Python API ----------------------------------------------

    def upload_dir(self) -> Path:
        if self._upload_dir is None:
            self._upload_dir = Path(tempfile.mkdtemp(prefix="sixtyfour-emulator-uploads-"))
        return self._upload_dir

    def result_file(self, job_id: str, filename: str, now: float | None = None) -> ResultFile | None:
        """The result file ``filename`` of run ``job_id``, if the run has produced it."""
        run = self.store.runs.get(job_id)
        if run is None:
            return None
        fmt = filename.rsplit(".", 1)[-1] if "." in filename else ""
        if fmt not in RESULT_FORMATS or (fmt in SAVE_JSON_FORMATS and not run.save_json):
            return None
        now = time.time() if now is None else now
        for file in run.result_files(now, fmt, run.spec.result_bytes):
            if file.filename == filename:
                return file
        return None

    def stats_dict(self) -> dict[str, Any]:
        now = time.time()
        data = self.stats.to_dict()
        data["runs_by_status"] = self.store.counts(now)
        data["rate_limit"] = (
            {"per_window": self.limiter.limit, "window_seconds": self.limiter.window} if self.limiter else None
        )
        data["credit_balance"] = {org_id: org.credit_balance for org_id, org in self.store.orgs.items()}
        data["faults"] = self.faults.describe()
        data["webhook_deliveries"] = self.webhooks.describe()
        return data

    def close(self) -> None:
        """Delete uploaded files."""
        if self._upload_dir is not None:
            shutil.rmtree(self._upload_dir, ignore_errors=True)
            self._upload_dir = None
