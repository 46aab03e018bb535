"""The shape of the API's ids (run ids, workflow ids), checked in one place before any request names them; no I/O.

Every request builder takes its ids through these checks, so an id can never make a request go to
another path: ``..`` or an id with ``/``, ``%``, ``?``, ``#`` or whitespace is refused, not quoted
into something the server (or a proxy) normalises to a different route.
"""

from __future__ import annotations

import re
import uuid

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError

#: A run id (``job_id``, the live status's ``run_id``): a UUID in its usual hyphenated form.
_RUN_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
#: A workflow id: letters and digits first, then letters, digits and ``-_.:~``; one path segment.
_WORKFLOW_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~-]*")
WORKFLOW_ID_MAX_LENGTH = 200
EXAMPLE_RUN_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"


def is_run_id(value: object) -> bool:
    """True for a string that is a run id (a hyphenated UUID), without surrounding whitespace."""
    return isinstance(value, str) and _RUN_ID.fullmatch(value) is not None


def same_run(a: str, b: str) -> bool:
    """True when two run ids name the same run (UUIDs compare without regard to case)."""
    return a.lower() == b.lower()


def check_job_id(job_id: object) -> str:
    """The run id, stripped of surrounding whitespace; raises :class:`SixtyfourInputError` for anything else."""
    text = str(job_id) if isinstance(job_id, uuid.UUID) else job_id.strip() if isinstance(job_id, str) else ""
    if not is_run_id(text):
        raise SixtyfourInputError(
            f"job_id {job_id!r} is not a Sixtyfour run id: run ids are UUIDs such as "
            f"'{EXAMPLE_RUN_ID}' (the run operator pushes it to XCom as 'job_id')"
        )
    return text


def check_workflow_id(workflow_id: object) -> str:
    """The workflow id, stripped; raises :class:`SixtyfourInputError` when it is empty or not one path segment."""
    text = workflow_id.strip() if isinstance(workflow_id, str) else ""
    if not text:
        raise SixtyfourInputError("workflow_id is empty: pass the id of a workflow from the Sixtyfour app")
    if len(text) > WORKFLOW_ID_MAX_LENGTH or _WORKFLOW_ID.fullmatch(text) is None:
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise SixtyfourInputError(
            f"workflow_id {shown!r} is not a Sixtyfour workflow id: ids are letters and digits, then also '-', "
            f"'_', '.', ':' or '~' (at most {WORKFLOW_ID_MAX_LENGTH} characters), never '/', '%', '?', '#', "
            "whitespace or '..'; copy the id from the workflow's page in the Sixtyfour app"
        )
    return text
