"""The ``sixtyfour://`` Asset URIs: one Asset per workflow, ``sixtyfour://workflows/<workflow_id>``; no I/O.

A DAG scheduled on such an Asset runs when a run of that workflow ends: through an ``AssetWatcher``
with :class:`~airflow_provider_sixtyfour.triggers.sixtyfour.SixtyfourWorkflowRunEventTrigger`, or
through asset events created by an outside service. The provider registers :func:`sanitize_uri` for
the scheme (``asset-uris`` in its provider info), so a misspelt URI fails when the DAG is parsed.
"""

from __future__ import annotations

from urllib.parse import SplitResult, quote, unquote

from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.ids import is_workflow_id

ASSET_SCHEME = "sixtyfour"
_KIND = "workflows"


def workflow_asset_uri(workflow_id: str) -> str:
    """The Asset URI of a workflow's runs: ``sixtyfour://workflows/<workflow_id>`` (the id URL-quoted).

    Raises :class:`~.SixtyfourInputError` (a ``ValueError``) for an id the API could not run.
    """
    return f"{ASSET_SCHEME}://{_KIND}/{quote(validate.workflow_id(workflow_id), safe='')}"


def sanitize_uri(parts: SplitResult) -> SplitResult:
    """Airflow's URI handler for the ``sixtyfour`` scheme: accept ``sixtyfour://workflows/<workflow_id>`` only."""
    workflow_id = parts.path.strip("/")
    if parts.netloc != _KIND or "/" in workflow_id or not is_workflow_id(unquote(workflow_id)) or parts.query:
        raise ValueError(
            f"{parts.geturl()!r} is not a Sixtyfour Asset URI: use sixtyfour://workflows/<workflow_id> "
            "(workflow_asset_uri(workflow_id) builds it)"
        )
    return parts
