"""The shape of the API's ids (run ids, workflow ids); no I/O.

Every request builder takes its ids through :mod:`~airflow_provider_sixtyfour.protocol.validate`, which
refuses what does not have this shape, so an id can never make a request go to another path: ``..`` or
an id with ``/``, ``%``, ``?``, ``#`` or whitespace is refused, not quoted into something the server
(or a proxy) normalises to a different route.
"""

from __future__ import annotations

import re

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


def is_workflow_id(text: str) -> bool:
    """True for a workflow id: one path segment of at most :data:`WORKFLOW_ID_MAX_LENGTH` characters."""
    return len(text) <= WORKFLOW_ID_MAX_LENGTH and _WORKFLOW_ID.fullmatch(text) is not None
