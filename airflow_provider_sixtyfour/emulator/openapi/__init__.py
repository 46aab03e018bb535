"""The vendor's published OpenAPI document of the Workflows API, shipped with the package.

The emulator routes on its paths and methods (``emulator.routes``) and its schema tests validate every
answer against it; it is read from the package (never from a path outside it), so the suite runs the
same on any machine.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

#: The file name of the document inside this package.
DOCUMENT_NAME = "sixtyfour-openapi-workflows.json"


def load_document() -> dict[str, Any]:
    """The OpenAPI document as parsed JSON (a fresh copy on every call)."""
    document = json.loads(files(__name__).joinpath(DOCUMENT_NAME).read_text(encoding="utf-8"))
    if not isinstance(document, dict) or "paths" not in document:
        raise ValueError(f"{DOCUMENT_NAME} in {__name__} is not an OpenAPI document")
    return document
