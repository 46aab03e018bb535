"""A local Sixtyfour Workflows API for demos, this provider's tests and your own DAG tests.

It answers the documented routes over real HTTP with the vendor's field names and error shapes:
runs advance in wall time block by block, result files are served from expiring signed URLs of the
emulator itself (CSV, or JSON with ``save_json``; any size, streamed), ``read_csv`` workflows take
uploaded CSVs, and faults (429, 5xx, resets, slow or lost answers, truncated or expired downloads)
and a per-key rate limit can be switched on. Workflows with an ``outgoing_webhook`` block POST a signed
delivery to their URL when a run ends (``emulator.deliveries``). It needs the ``emulator`` extra (aiohttp), imported
only when a server starts.

In a test::

    import json
    import pytest
    from airflow_provider_sixtyfour.emulator import EmulatorServer, FaultRule, WorkflowSpec

    @pytest.fixture
    def sixtyfour(monkeypatch):
        leads = WorkflowSpec(workflow_id="wf-leads", duration_seconds=1.0, rows_out=50)
        with EmulatorServer(api_keys=["test-key"], workflows=[leads]) as server:
            monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_DEFAULT", json.dumps(
                {"conn_type": "sixtyfour", "host": server.base_url, "password": "test-key"}))
            yield server

    def test_my_dag(sixtyfour):
        sixtyfour.add_fault(FaultRule(route="/workflows/runs/{run_id}/live_status", kind="status",
                                      status=503, rate=0.2, seed=1))
        ...  # run the DAG
        assert sixtyfour.runs_started() == 1

From a shell: ``sixtyfour-emulator --port 8064 --api-key my-key [--config emulator.json]``; its
``/_emulator/`` routes (stats, faults, workflows, rate-limit, credits, reset) control it from outside.
"""

from airflow_provider_sixtyfour.emulator.faults import FAULT_KINDS, OUTGOING_WEBHOOK_ROUTE, STORAGE_ROUTE, FaultRule
from airflow_provider_sixtyfour.emulator.server import EmulatorServer
from airflow_provider_sixtyfour.emulator.specs import DEFAULT_WORKFLOWS, OutgoingWebhook, WorkflowSpec
from airflow_provider_sixtyfour.emulator.webhook_settings import WebhookSettings

__all__ = [
    "DEFAULT_WORKFLOWS",
    "FAULT_KINDS",
    "OUTGOING_WEBHOOK_ROUTE",
    "STORAGE_ROUTE",
    "EmulatorServer",
    "FaultRule",
    "OutgoingWebhook",
    "WebhookSettings",
    "WorkflowSpec",
]
