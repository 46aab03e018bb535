"""The emulator's API routes, read from the vendor's OpenAPI document (``emulator/openapi``), not from the
client's route constants: a route the client gets wrong then fails against the emulator too, instead of
being copied into both.

Each documented route is found by its ``operationId``; the one route the emulator serves that the
document lacks (the CSV upload) is declared here, marked :attr:`ApiRoute.documented` False.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow_provider_sixtyfour.emulator.openapi import DOCUMENT_NAME, load_document


@dataclass(frozen=True)
class ApiRoute:
    """One API route the emulator serves.

    :param method: the HTTP method, upper case.
    :param path: the route template, ``{name}`` syntax (the document's, which aiohttp routes on as is).
    :param documented: False for a route the OpenAPI document does not have.
    """

    method: str
    path: str
    documented: bool = True


def documented_operations(document: dict[str, Any]) -> dict[str, ApiRoute]:
    """Every operation of ``document`` by its ``operationId``."""
    found: dict[str, ApiRoute] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = ApiRoute(method.upper(), path)
    return found


_OPERATIONS = documented_operations(load_document())


def _documented(operation_id: str) -> ApiRoute:
    try:
        return _OPERATIONS[operation_id]
    except KeyError:
        raise LookupError(f"{DOCUMENT_NAME} has no operation {operation_id!r}") from None


RUN_WORKFLOW = _documented("run_workflow_workflows_run_post")
LIST_RUNS = _documented("list_workflow_runs_workflows_runs_get")
LIVE_STATUS = _documented("get_workflow_run_live_status_workflows_runs__run_id__live_status_get")
CANCEL_RUN = _documented("cancel_workflow_run_workflows_cancel_post")
DOWNLOAD_LINKS = _documented("list_run_results_with_download_links_workflows_runs__run_id__results_download_links_get")
LIST_WORKFLOWS = _documented("list_workflows_workflows_get")
GET_WORKFLOW = _documented("get_workflow_workflows__workflow_id__get")

#: NOT IN THE OPENAPI DOCUMENT: the CSV upload of ``read_csv`` workflows, declared by the emulator itself
#: (its field and answer names are assumptions the client shares, see ``protocol.endpoints``).
UPLOAD_CSV = ApiRoute("POST", "/storage/csv/upload", documented=False)

#: Every API route the emulator serves (not its ``/_storage/`` files nor its ``/_emulator/`` admin routes):
#: the document's, in its order, then the undocumented ones.
API_ROUTES: tuple[ApiRoute, ...] = (*_OPERATIONS.values(), UPLOAD_CSV)

#: The route templates of :data:`API_ROUTES` (what a ``FaultRule`` and the stats name a route by).
API_PATHS: tuple[str, ...] = tuple(route.path for route in API_ROUTES)
