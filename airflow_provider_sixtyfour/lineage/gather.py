"""What only the API knows, fetched when an event is built: the run's record and its workflow.

Called from the OpenLineage methods, never from ``execute``: a deployment without the OpenLineage
provider pays for none of it. Each call is best effort; a failure leaves the fact out and logs why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.lineage.facts import LineageFacts

log = logging.getLogger(__name__)

#: Runs listed to find a run whose workflow is unknown (the API's largest page).
MAX_LISTED_RUNS = 500


def fill_from_api(facts: LineageFacts, hook: SixtyfourHook) -> None:
    """Add the run's record (workflow name, metrics) and its workflow's name and description to ``facts``."""
    if facts.job_id:
        try:
            limit = 100 if facts.workflow_id else MAX_LISTED_RUNS
            for record in hook.list_runs(workflow_id=facts.workflow_id, limit=limit):
                if record.job_id == facts.job_id:
                    facts.saw_record(record)
                    break
        except Exception as err:  # lineage is best effort: any failure only leaves the fact out
            log.warning("Lineage: could not read the record of Sixtyfour run %s: %s", facts.job_id, err)
        if not facts.run_url:
            facts.run_url = hook.run_url(facts.job_id)
    if facts.workflow_id and facts.workflow_description is None:
        try:
            facts.saw_workflow(hook.get_workflow(facts.workflow_id))
        except Exception as err:  # lineage is best effort: any failure only leaves the fact out
            log.warning("Lineage: could not read Sixtyfour workflow %s: %s", facts.workflow_id, err)
