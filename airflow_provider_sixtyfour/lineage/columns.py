"""The columns of a landed result file, from its first bytes only.

A CSV's header, the keys of a JSON array's first object, or of an NDJSON file's first line. Reading
stops after :data:`HEAD_BYTES`, whatever the file's size; a header that does not end within them,
or bytes that are not what the format promises, give no columns (None), never an error: lineage
must not fail a task that landed its files.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from typing import Any

log = logging.getLogger(__name__)

#: The most bytes read from the start of a file to find its columns.
HEAD_BYTES = 64 * 1024


def columns_from_head(head: bytes, fmt: str, *, whole_file: bool) -> list[str] | None:
    """The columns in ``head``, the first bytes of a ``csv`` or ``json`` (array or NDJSON) file.

    :param whole_file: ``head`` is the entire file, so its last line is complete even without a
        line break.
    """
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if fmt == "csv":
        return _csv_header(text, whole_file)
    if fmt == "json":
        return _json_keys(text, whole_file)
    return None


def read_columns(uri: str, fmt: str, conn_id: str | None = None, limit: int = HEAD_BYTES) -> list[str] | None:
    """The columns of the file at ``uri`` (read with ``conn_id``), or None when they cannot be told."""
    try:
        from airflow.providers.common.compat.sdk import ObjectStoragePath

        path = ObjectStoragePath(uri, conn_id=conn_id) if conn_id else ObjectStoragePath(uri)
        with path.open("rb") as handle:
            head = _read_up_to(handle, limit + 1)
    except Exception as exc:
        log.warning("Lineage: could not read the columns of %s (%s: %s)", uri, type(exc).__name__, exc)
        return None
    return columns_from_head(head[:limit], fmt, whole_file=len(head) <= limit)


def _read_up_to(handle: Any, size: int) -> bytes:
    parts: list[bytes] = []
    left = size
    while left > 0:
        chunk = handle.read(left)
        if not chunk:
            break
        parts.append(bytes(chunk))
        left -= len(chunk)
    return b"".join(parts)


def _csv_header(text: str, whole_file: bool) -> list[str] | None:
    if not whole_file:
        end = text.rfind("\n")
        if end < 0:
            return None
        text = text[: end + 1]
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), strict=True), None)
    except csv.Error:
        return None
    return header or None


def _json_keys(text: str, whole_file: bool) -> list[str] | None:
    body = text.lstrip()
    decoder = json.JSONDecoder()
    try:
        if body.startswith("["):
            rest = body[1:].lstrip()
            if rest.startswith("]"):
                return None
            first, _ = decoder.raw_decode(rest)
        elif body.startswith("{"):
            line = body.split("\n", 1)[0]
            if "\n" not in body and not whole_file:
                return None
            first, _ = decoder.raw_decode(line)
        else:
            return None
    except ValueError:
        return None
    if not isinstance(first, dict):
        return None
    return [str(key) for key in first] or None
