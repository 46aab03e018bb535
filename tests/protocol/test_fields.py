"""Reading single fields of untrusted answers: wrong types, numbers no record can hold, runaway nesting."""

from __future__ import annotations

import json
import math

import pytest

from airflow_provider_sixtyfour.protocol.fields import (
    MAX_DEPTH,
    MalformedAnswer,
    finite,
    opt_float,
    opt_int,
    opt_str,
    plain_dict,
    require,
    require_text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        (2.5, 2.5),
        (math.nan, None),
        (math.inf, None),
        (-math.inf, None),
        (2**63, None),
        (True, None),
        ("1", None),
    ],
)
def test_finite(value: object, expected: object) -> None:
    assert finite(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(7, 7), (7.9, 7), ("12", 12), ("1.5", -1), (math.nan, -1), (math.inf, -1), (1e300, -1), (10**30, -1), (None, -1)],
)
def test_opt_int_reads_what_is_not_a_count_as_missing(value: object, expected: int) -> None:
    assert opt_int({"n": value}, "n", -1) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12.5, 12.5), (3, 3.0), ("4.5", 4.5), ("NaN", 0.0), (math.nan, 0.0), (math.inf, 0.0), (10**400, 0.0), ([], 0.0)],
)
def test_opt_float_reads_non_finite_numbers_as_missing(value: object, expected: float) -> None:
    result = opt_float({"p": value}, "p")
    assert result == expected
    assert math.isfinite(result)


@pytest.mark.parametrize(
    ("value", "expected"), [("text", "text"), (12, "12"), (1.5, "1.5"), (math.nan, None), ([1], None), ({"a": 1}, None)]
)
def test_opt_str_reads_other_types_as_missing(value: object, expected: str | None) -> None:
    assert opt_str({"s": value}, "s") == expected


def test_require_names_the_field_and_what_was_wrong() -> None:
    with pytest.raises(MalformedAnswer, match="required field 'n' is missing"):
        require({"n": None}, "n", int)
    with pytest.raises(MalformedAnswer, match="field 'n' should be int, got bool"):
        require({"n": True}, "n", int)
    with pytest.raises(MalformedAnswer, match=r"field 'n' is a number out of range \(an integer of 31 digits\)"):
        require({"n": 10**30}, "n", int)
    with pytest.raises(MalformedAnswer, match="field 'p' is a number out of range"):
        require({"p": math.inf}, "p", float)
    with pytest.raises(MalformedAnswer, match="required field 'id' is empty"):
        require_text({"id": "  "}, "id")
    assert require_text({"id": "wf-1"}, "id") == "wf-1"


def test_plain_dict_copies_strict_json_and_bounds_nesting() -> None:
    metrics = plain_dict({"metrics": {"rows": 3, "cost": math.nan, "nested": [{"x": math.inf}], 1: "k"}}, "metrics")
    assert metrics == {"rows": 3, "cost": None, "nested": [{"x": None}], "1": "k"}
    json.dumps(metrics, allow_nan=False)
    assert plain_dict({"metrics": [1, 2]}, "metrics") == {}
    deep: object = 1
    for _ in range(MAX_DEPTH + 1):
        deep = {"d": deep}
    with pytest.raises(MalformedAnswer, match=f"field 'metrics' is nested deeper than {MAX_DEPTH} levels"):
        plain_dict({"metrics": deep}, "metrics")
