"""Decoding an answer's body into JSON values strictly; no I/O.

``json.loads`` alone accepts what the API never sends and a record must never carry: ``NaN`` and
``Infinity`` (not JSON at all), ``1e400`` (read as infinity), a 5,000-digit integer (a ``ValueError``
about Python's digit limit), an object that names one key twice (which value is right?), and nesting
so deep that the parser itself gives up (``RecursionError``). Here numbers no record can hold read
as null (so a field holding one reads as missing), a duplicated key and runaway nesting are
:class:`UnreadableJson`, and the result is always strict JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from airflow_provider_sixtyfour.protocol.fields import INT_MAX, INT_MIN

_PARTIAL_LITERAL = re.compile(r"[A-Za-z0-9.+-]{1,15}")
#: Integers with more digits than this cannot be 64-bit and are not converted at all.
_MAX_INT_DIGITS = 20


def looks_like_html(text: str) -> bool:
    """True when an answer's text is an HTML page (``<!DOCTYPE`` or ``<html`` first): a proxy's or a
    wrong host's page, not the API's JSON."""
    return text.lstrip().lower().startswith(("<!doctype", "<html"))


class UnreadableJson(ValueError):
    """The body is not strict JSON the provider can read; ``problem`` says why ("is not UTF-8 text"), safe to show."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        super().__init__(problem)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(key)


def _int(text: str) -> int | None:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        return None
    value = int(text)
    return value if INT_MIN <= value <= INT_MAX else None


def _float(text: str) -> float | None:
    value = float(text)
    return value if math.isfinite(value) else None


def _constant(_name: str) -> None:
    # NaN, Infinity, -Infinity: not JSON; read as null rather than refuse the whole answer.
    return None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


_DECODER = json.JSONDecoder(
    parse_int=_int, parse_float=_float, parse_constant=_constant, object_pairs_hook=_object, strict=True
)


def decode_json(body: bytes | str) -> Any:
    """The JSON value of ``body`` (UTF-8, or UTF-16/32 with a BOM as ``json.loads`` detects).

    :raises UnreadableJson: the body is not JSON, not text, names a key twice in one object, or nests
        deeper than the parser can go. Other problems (not JSON at all) raise ``ValueError`` as
        ``json.loads`` does, so the caller can describe what the body looks like.
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            text = body.decode(json.detect_encoding(body))
        except UnicodeDecodeError as err:
            raise UnreadableJson(f"is not UTF-8 text (byte {err.start} cannot be decoded)") from None
    else:
        text = body
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        return _DECODER.decode(text)
    except _DuplicateKey as dup:
        raise UnreadableJson(
            f"names the key {dup.key[:80]!r} twice in one object, so it is not clear which value is meant"
        ) from None
    except RecursionError:
        raise UnreadableJson("nests lists or objects too deeply to read") from None
    except json.JSONDecodeError as err:
        # The body stops inside a value: at its very end, in a string never closed, or in a literal cut
        # short (``nu`` for ``null``).
        rest = text[err.pos :].rstrip()
        ends_early = not err.msg.startswith("Extra data") and (
            not rest or err.msg.startswith("Unterminated string") or _PARTIAL_LITERAL.fullmatch(rest) is not None
        )
        if text.lstrip()[:1] in ("{", "[") and ends_early:
            raise UnreadableJson(
                f"is cut short: its JSON stops after {len(text)} characters, before it is complete"
            ) from None
        raise
