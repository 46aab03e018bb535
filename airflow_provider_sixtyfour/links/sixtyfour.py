"""The "Sixtyfour run" button on a task instance: a link to the run's page in the Sixtyfour app.

The run operator pushes the page's URL to XCom as ``run_url`` the moment the run starts, so the link
works while the run is in flight and for every later try. The app's base URL comes from the
connection's ``app_url`` extra.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import BaseOperator, TaskInstanceKey

#: The XCom key holding the run's page in the Sixtyfour app.
RUN_URL_XCOM_KEY = "run_url"


class SixtyfourRunLink(BaseOperatorLink):
    """Links a task instance to the Sixtyfour run it started (from the ``run_url`` XCom).

    Attach it through ``operator_extra_links = (SixtyfourRunLink(),)``; it is registered in the
    provider's ``extra-links`` so Airflow can rebuild it from serialized DAGs.
    """

    name = "Sixtyfour run"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The run's page for the task instance ``ti_key``, or ``""`` before a run has started."""
        url = XCom.get_value(key=RUN_URL_XCOM_KEY, ti_key=ti_key)
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
        return ""

    @classmethod
    def persist(cls, context: Any, run_url: str) -> None:
        """Store the link for the UI as soon as the run starts.

        Airflow 3 shows an extra link from its own XCom (``_link_SixtyfourRunLink``), which the worker
        otherwise writes only when the task ends; writing it now makes the button work while the run
        is in flight. Airflow 2 calls :meth:`get_link` from the webserver instead, so nothing is needed.
        """
        xcom_key = getattr(cls(), "xcom_key", None)
        if isinstance(xcom_key, str) and xcom_key:
            context["ti"].xcom_push(key=xcom_key, value=run_url)
