"""A bounded, best-effort cancel of a run, for ``on_kill`` and for a run operator's timeout."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.protocol.models import CancelResult

#: Longest time a best-effort cancel (``on_kill``) may take; Airflow waits a bounded time for on_kill.
CANCEL_BUDGET_SECONDS = 30.0


def cancel_within(conn_id: str, job_id: str, budget: float, log: Any) -> CancelResult | None:
    """Ask Sixtyfour to cancel ``job_id``, giving up after ``budget`` seconds; never raises.

    The request runs in a daemon thread with its own hook (its own connection pool), so it is safe
    from a signal handler that interrupted another request, and its retries cannot outlast the budget.
    """
    answer: list[CancelResult] = []
    failure: list[BaseException] = []

    def work() -> None:
        from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

        try:
            with SixtyfourHook(sixtyfour_conn_id=conn_id) as hook:
                answer.append(hook.cancel_run(job_id))
        except BaseException as err:
            failure.append(err)

    thread = threading.Thread(target=work, name=f"sixtyfour-cancel-{job_id}", daemon=True)
    thread.start()
    thread.join(budget)
    if thread.is_alive():
        log.warning("Cancelling Sixtyfour run %s got no answer within %.0f s; giving up", job_id, budget)
        return None
    if failure:
        log.warning("Cancelling Sixtyfour run %s failed: %s", job_id, failure[0])
        return None
    log.info("Asked Sixtyfour to cancel run %s; it answered %s", job_id, answer[0].status.value)
    return answer[0]
