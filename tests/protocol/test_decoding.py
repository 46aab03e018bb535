"""Decoding answer bodies strictly: what ``json.loads`` would let through never reaches a record."""

from __future__ import annotations

import json

import pytest

from airflow_provider_sixtyfour.protocol.decoding import UnreadableJson, decode_json, looks_like_html


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b'{"p": NaN, "q": Infinity, "r": -Infinity}', {"p": None, "q": None, "r": None}),
        (b'{"p": 1e400, "q": -1e400, "r": 1.5}', {"p": None, "q": None, "r": 1.5}),
        (b'{"n": 9223372036854775807, "m": 9223372036854775808}', {"n": 2**63 - 1, "m": None}),
        (b'{"n": -9223372036854775808, "m": -9223372036854775809}', {"n": -(2**63), "m": None}),
        (b'{"n": ' + b"9" * 5000 + b"}", {"n": None}),  # json.loads raises ValueError (4300-digit limit)
        (b"\xef\xbb\xbf" + b'{"a": 1}', {"a": 1}),
        ('{"a": "é"}'.encode("utf-16"), {"a": "é"}),
    ],
    ids=["nan-infinity", "float-overflow", "int64-bounds", "negative-bounds", "5000-digits", "utf8-bom", "utf16"],
)
def test_numbers_no_record_can_hold_read_as_null(body: bytes, expected: object) -> None:
    decoded = decode_json(body)
    assert decoded == expected
    json.dumps(decoded, allow_nan=False)  # strict JSON, whatever came in


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"run_id": "a", "run_id": "b"}', "names the key 'run_id' twice in one object"),
        (b'[{"x": {"s": 1, "s": 1}}]', "names the key 's' twice in one object"),
        (b"[" * 200_000 + b"]" * 200_000, "nests lists or objects too deeply to read"),
        (b'{"a": "\xff\xfe"}', "is not UTF-8 text (byte 7 cannot be decoded)"),
        (b'{"run_id": "3f2b', "is cut short: its JSON stops after 16 characters, before it is complete"),
        (b'[{"a": 1}, ', "is cut short"),
    ],
    ids=["duplicate-key", "nested-duplicate", "deep-nesting", "not-utf8", "truncated-object", "truncated-list"],
)
def test_ambiguous_or_unreadable_bodies_are_refused_with_the_reason(body: bytes, problem: str) -> None:
    with pytest.raises(UnreadableJson) as raised:
        decode_json(body)
    assert problem in raised.value.problem


@pytest.mark.parametrize("body", [b"<html>nope</html>", b"plain text", b'{"a": 1} trailing'])
def test_bodies_that_are_not_json_raise_json_errors_for_the_caller_to_describe(body: bytes) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        decode_json(body)
    assert not isinstance(raised.value, UnreadableJson)


def test_ordinary_answers_decode_as_json_loads_does() -> None:
    body = json.dumps({"runs": [{"job_id": "x", "progress": 12.5, "count": 3, "ok": True, "none": None}]}).encode()
    assert decode_json(body) == json.loads(body)
    assert decode_json(body.decode()) == json.loads(body)


def test_a_body_cut_inside_a_literal_is_cut_short() -> None:
    with pytest.raises(UnreadableJson, match="is cut short"):
        decode_json(b'{"estimation_blocked_by": nu')


@pytest.mark.parametrize(
    ("text", "html"),
    [("<!DOCTYPE html><html>", True), ("  \n<HTML lang=en>", True), ('{"a": 1}', False), ("<xml/>", False)],
)
def test_looks_like_html(text: str, html: bool) -> None:
    assert looks_like_html(text) is html
