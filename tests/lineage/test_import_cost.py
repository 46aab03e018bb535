"""DAG parsing imports no OpenLineage code: the operator modules load the lineage code only when called."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
try:
    import airflow.sdk
except ImportError:
    import airflow
before = set(sys.modules)
import airflow_provider_sixtyfour.operators.sixtyfour
from airflow_provider_sixtyfour.operators.sixtyfour import SixtyfourRunWorkflowOperator
op = SixtyfourRunWorkflowOperator(task_id="t", workflow_id="wf", input_csv="s3://b/k.csv")
new = sorted(set(sys.modules) - before)
# Without the OpenLineage provider (import blocked), what execute records still works.
sys.modules["openlineage"] = sys.modules["airflow.providers.openlineage"] = None
op.lineage_facts.saw_run(job_id="j", output_rows=3)
op.lineage_facts.saw_landed([{"uri": "s3://b/out.csv", "row_count": 3}])
try:
    op.get_openlineage_facets_on_start()
    blocked = False
except ImportError:
    blocked = True
print(json.dumps({
    "openlineage": [m for m in new if m.startswith(("openlineage", "airflow.providers.openlineage"))],
    "ours": [m for m in new if m.startswith("airflow_provider_sixtyfour.lineage")],
    "has_methods": callable(getattr(op, "get_openlineage_facets_on_complete", None)),
    "recorded": [op.lineage_facts.rows_out, len(op.lineage_facts.landed)],
    "blocked": blocked,
}))
"""


def test_parsing_a_dag_imports_no_openlineage_code() -> None:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["openlineage"] == []
    # Only the pure facts and the mixin: no facet builders, no column reader.
    assert sorted(result["ours"]) == [
        "airflow_provider_sixtyfour.lineage",
        "airflow_provider_sixtyfour.lineage.facts",
        "airflow_provider_sixtyfour.lineage.mixin",
    ]
    assert result["has_methods"]
    assert result["recorded"] == [3, 1]
    assert result["blocked"]  # only the provider calls these methods, and only where it is installed
