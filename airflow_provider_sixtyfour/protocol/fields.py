"""Reading the fields of an untrusted API answer into plain, checked values; no I/O.

A proxy, a cache or a buggy server may put anything anywhere, so every reader here checks what it
gets. Required fields raise :class:`MalformedAnswer` (the transports turn it into
``SixtyfourResponseError``) when missing, null or of the wrong type. Optional fields of the wrong type
read as missing, and so do numbers no record can hold: ``NaN``, ``Infinity`` and integers beyond 64
bits. Free-form objects (``metrics``, ``specs``) are copied as strict JSON, at most
:data:`MAX_DEPTH` levels deep, so whatever a record carries can be pushed to XCom or put in a trigger
event as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")

#: The range of integers a record accepts; beyond it a number is garbage, not a count.
INT_MIN = -(2**63)
INT_MAX = 2**63 - 1
#: How deep a free-form object of a record (``metrics``, ``specs``) may nest.
MAX_DEPTH = 32


class MalformedAnswer(ValueError):
    """An answer lacks a required field or has one of the wrong type (turned into SixtyfourResponseError)."""


def finite(value: object) -> int | float | None:
    """``value`` if it is a number a record can hold (finite, within 64-bit integers), else None."""
    kind = type(value)
    if kind is int or (kind is not bool and isinstance(value, int)):
        return value if INT_MIN <= value <= INT_MAX else None  # type: ignore[operator,return-value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None


def _kind_name(kind: type | tuple[type, ...]) -> str:
    if isinstance(kind, tuple):
        return " or ".join(k.__name__ for k in kind)
    return kind.__name__


def require(data: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...]) -> T:
    """The required field ``key`` of type ``kind``; raises :class:`MalformedAnswer` otherwise."""
    if key not in data or data[key] is None:
        raise MalformedAnswer(f"required field {key!r} is missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise MalformedAnswer(f"field {key!r} should be {_kind_name(kind)}, got {type(value).__name__}")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and finite(value) is None:
        raise MalformedAnswer(f"field {key!r} is a number out of range ({_describe_number(value)})")
    return value  # type: ignore[return-value]


def require_text(data: Mapping[str, Any], key: str) -> str:
    """A required string field that is not empty or blank (ids, statuses)."""
    value = require(data, key, str)
    if not value.strip():
        raise MalformedAnswer(f"required field {key!r} is empty")
    return value


def _describe_number(value: int | float) -> str:
    if isinstance(value, float):
        return repr(value)
    return f"an integer of {len(str(abs(value)))} digits"


def opt_str(data: Mapping[str, Any], key: str) -> str | None:
    """An optional text field; a number is spelled out, any other type reads as missing."""
    value = data.get(key)
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str(value)
    number = finite(value)
    return None if number is None else str(number)


def _from_text(value: object, convert: type[int] | type[float]) -> object:
    """A numeric string read with ``convert`` (None when it is not a number); any other value as it is."""
    if not isinstance(value, str):
        return value
    try:
        return convert(value)
    except ValueError:
        return None


def opt_int(data: Mapping[str, Any], key: str, default: int | None = None) -> int | None:
    """An optional integer field (a float is truncated, a numeric string read); ``default`` otherwise."""
    value = data.get(key)
    if value is None:
        return default
    if type(value) is int:
        return value if INT_MIN <= value <= INT_MAX else default
    number = finite(_from_text(value, int))
    if number is None:
        return default
    whole = int(number)
    return whole if INT_MIN <= whole <= INT_MAX else default


def opt_float(data: Mapping[str, Any], key: str, default: float = 0.0) -> float:
    """An optional number field (a numeric string is accepted); ``default`` when missing or not finite."""
    number = finite(_from_text(data.get(key), float))
    return default if number is None else float(number)


def plain_json(value: Any, what: str, depth: int = 0) -> Any:
    """A strict-JSON copy of a free-form value: non-finite numbers become None, keys strings.

    Raises :class:`MalformedAnswer` when it nests deeper than :data:`MAX_DEPTH`.
    """
    if depth > MAX_DEPTH:
        raise MalformedAnswer(f"field {what!r} is nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if value is None or kind is str or kind is bool:
        return value
    if kind is dict or isinstance(value, Mapping):
        return {str(k): plain_json(v, what, depth + 1) for k, v in value.items()}
    if kind is list or isinstance(value, (list, tuple)):
        return [plain_json(v, what, depth + 1) for v in value]
    if isinstance(value, str):
        return str(value)
    return finite(value)


def plain_dict(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional object field as a strict-JSON dict; ``{}`` when missing or not an object."""
    value = data.get(key)
    if value is None:
        return {}
    return plain_json(value, key) if type(value) is dict or isinstance(value, Mapping) else {}


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO-8601 timestamp of the API; ``None`` for missing or unreadable values."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def mapping(data: object, what: str) -> Mapping[str, Any]:
    """``data`` if it is a JSON object; raises :class:`MalformedAnswer` naming ``what`` otherwise."""
    if type(data) is not dict and not isinstance(data, Mapping):
        raise MalformedAnswer(f"expected a JSON object for {what}, got {_json_type(data)}")
    return data


def list_of(item: Callable[[object], T], what: str) -> Callable[[object], list[T]]:
    """A parser of a JSON list of ``what``, each item read by ``item`` (e.g. ``RunRecord.from_api``)."""

    def parse(data: object) -> list[T]:
        return [item(entry) for entry in as_list(data, what)]

    return parse


def as_list(data: object, what: str) -> list[Any]:
    """``data`` if it is a JSON list; raises :class:`MalformedAnswer` naming ``what`` otherwise."""
    if not isinstance(data, list):
        raise MalformedAnswer(f"expected a JSON list of {what}, got {_json_type(data)}")
    return data


def _json_type(data: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    if data is None:
        return "null"
    for kind, name in names.items():
        if isinstance(data, kind):
            return name
    return "a number" if isinstance(data, float) else type(data).__name__
