"""The distributed drills' DAGs (tests/distributed/test_drills.py), one per drill.

Results land under the folder the run's ``conf["land_to"]`` names (a ``file://`` URI), one sub-folder a
map index. Every emulator workflow of a drill is its own, so the emulator's runs of a workflow are the
drill's paid runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG

from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator

FANOUT, HANDOVER, RATE_LIMITED = 40, 6, 20
LAND_TO = "{{ dag_run.conf['land_to'] }}/{{ ti.map_index }}/"


def rows(count: int) -> list[list[dict[str, str]]]:
    """One webhook payload (a single lead) per mapped task."""
    return [[{"email": f"lead{index}@example.com", "company": f"Company {index}"}] for index in range(count)]


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, start_date=datetime(2026, 1, 1), schedule=None, catchup=False, max_active_tasks=64)


# a. Forty deferred waits, spread over both triggerers; results land. One retry, as a production DAG
# would have: a try lost to the loaded CI machine must reattach to its run, not pay for a second one.
with _dag("sixtyfour_dist_fanout"):
    SixtyfourRunWorkflowOperator.partial(
        task_id="enrich",
        workflow_id="wf-dist-fanout",
        deferrable=True,
        poll_interval=2.0,
        timeout=1800,
        download_to=LAND_TO,
        retries=1,
        retry_delay=timedelta(seconds=5),
    ).expand(webhook_payload=rows(FANOUT))

# b and c. Deferred waits that outlive a SIGTERMed triggerer (b) or a SIGKILLed one (c); conf names the workflow.
with _dag("sixtyfour_dist_handover"):
    SixtyfourRunWorkflowOperator.partial(
        task_id="wait",
        workflow_id="{{ dag_run.conf['workflow_id'] }}",
        deferrable=True,
        poll_interval=1.0,
        timeout=1800,
    ).expand(webhook_payload=rows(HANDOVER))

# d. A wait in the worker whose worker dies: the retry, on the other worker, reattaches.
with _dag("sixtyfour_dist_worker_lost"):
    SixtyfourRunWorkflowOperator(
        task_id="wait_in_worker",
        workflow_id="wf-dist-worker-lost",
        webhook_payload=rows(1)[0],
        deferrable=False,
        poll_interval=1.0,
        retries=1,
        retry_delay=timedelta(seconds=1),
        download_to=LAND_TO,
    )

# e. A deferred wait that a user clears: its run is cancelled, the next try starts a new one.
with _dag("sixtyfour_dist_cleared"):
    SixtyfourRunWorkflowOperator(
        task_id="cleared",
        workflow_id="wf-dist-cleared",
        webhook_payload=rows(1)[0],
        deferrable=True,
        poll_interval=1.0,
        timeout=1800,
    )

# f. Twenty waits in the workers sharing one key's rate limit; results land.
with _dag("sixtyfour_dist_rate_limited"):
    SixtyfourRunWorkflowOperator.partial(
        task_id="enrich",
        workflow_id="wf-dist-rate-limited",
        deferrable=False,
        poll_interval=0.5,
        download_to=LAND_TO,
    ).expand(webhook_payload=rows(RATE_LIMITED))
