"""The one check behind every emulator config mapping: keys it does not know are an error, never ignored."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def check_known_keys(data: Mapping[str, Any], known: Iterable[str], what: str) -> None:
    """Raise ValueError naming ``data``'s unknown keys and the known ones (``what``: e.g. ``"fault"``)."""
    allowed = set(known)
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown {what} setting(s) {sorted(unknown)}; known: {sorted(allowed)}")
