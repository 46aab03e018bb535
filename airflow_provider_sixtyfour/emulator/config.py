"""Emulator settings from a JSON file (``sixtyfour-emulator --config FILE``).

Example::

    {
      "api_keys": ["my-test-key"],
      "include_default_workflows": true,
      "workflows": [
        {"workflow_id": "wf-leads", "first_block": "webhook",
         "blocks": ["webhook", "enrich_lead", "find_email"], "duration_seconds": 5, "rows_out": 200},
        {"workflow_id": "wf-broken", "outcome": "failed", "error_message": "Provider down"}
      ],
      "faults": [{"route": "/workflows/runs/{run_id}/live_status", "kind": "status", "status": 503, "rate": 0.1}],
      "rate_limit_per_minute": 500,
      "time_scale": 1.0,
      "link_ttl_seconds": 900,
      "seed": 7,
      "webhooks": {"signing_secret": "sk_whsec_...", "max_attempts": 6, "backoff_seconds": 1}
    }

A workflow ending with an ``outgoing_webhook`` block has ``"outgoing_webhook": {"url": "https://..."}``;
``webhooks`` (see :class:`~airflow_provider_sixtyfour.emulator.webhook_settings.WebhookSettings`) says how
its deliveries are signed and retried, and faults on route ``"outgoing_webhook"`` drop, duplicate, delay
or reorder them.

``api_keys`` may also map keys to organisation ids: ``{"key-a": "org-a", "key-b": "org-b"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from airflow_provider_sixtyfour.emulator.faults import FaultRule
from airflow_provider_sixtyfour.emulator.known_keys import check_known_keys
from airflow_provider_sixtyfour.emulator.specs import DEFAULT_WORKFLOWS, WorkflowSpec
from airflow_provider_sixtyfour.emulator.webhook_settings import WebhookSettings

_SCALARS = (
    "rate_limit_per_minute",
    "rate_limit_window_seconds",
    "time_scale",
    "cancel_delay_seconds",
    "link_ttl_seconds",
    "credit_balance",
    "seed",
)
_KNOWN = {"api_keys", "workflows", "include_default_workflows", "faults", "webhooks", *_SCALARS}


def config_from_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """``EmulatorServer`` keyword arguments from a parsed config; raises ValueError naming what is wrong."""
    check_known_keys(data, _KNOWN, "emulator")
    kwargs: dict[str, Any] = {name: data[name] for name in _SCALARS if name in data}
    if "api_keys" in data:
        keys = data["api_keys"]
        if not isinstance(keys, (list, dict)) or not keys:
            raise ValueError("api_keys must be a non-empty list of keys or a mapping of key to organisation id")
        kwargs["api_keys"] = keys
    specs = [WorkflowSpec.from_dict(item) for item in data.get("workflows", [])]
    if data.get("include_default_workflows", True):
        own = {spec.workflow_id for spec in specs}
        specs = [spec for spec in DEFAULT_WORKFLOWS if spec.workflow_id not in own] + specs
    kwargs["workflows"] = specs
    kwargs["faults"] = [FaultRule.from_dict(item) for item in data.get("faults", [])]
    if "webhooks" in data:
        kwargs["webhooks"] = WebhookSettings.from_dict(data["webhooks"])
    return kwargs


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a JSON config file into ``EmulatorServer`` keyword arguments."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as err:
        raise ValueError(f"cannot read emulator config {path}: {err.strerror}") from None
    except ValueError as err:
        raise ValueError(f"emulator config {path} is not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ValueError(f"emulator config {path} must hold a JSON object")
    try:
        return config_from_mapping(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"emulator config {path}: {err}") from None
