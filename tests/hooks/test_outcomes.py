"""The outcomes a transport passes back to the retry loop (``hooks/outcomes.py``)."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.hooks.outcomes import NoAnswer, Unreadable, Unsendable, content_length


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"Content-Length": "12"}, 12), ({"content-length": "0"}, 0), ({"Content-Length": "many"}, None), ({}, None)],
)
def test_content_length(headers: dict[str, str], expected: int | None) -> None:
    assert content_length(headers) == expected


def test_failures_keep_their_own_identity() -> None:
    assert NoAnswer("reset") == NoAnswer("reset")
    assert NoAnswer("x") != Unsendable("x") != Unreadable("x")
    assert repr(Unsendable("bad header")) == "Unsendable(reason='bad header')"
    with pytest.raises(AttributeError):
        NoAnswer("x").reason = "y"  # type: ignore[misc]
