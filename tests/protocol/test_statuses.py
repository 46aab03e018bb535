"""Which runs have ended: known terminal statuses, and unknown ones once ``completed_at`` is set; pure."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from airflow_provider_sixtyfour.protocol.statuses import RunStatus, run_has_ended, spelled_status, status_text

WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("api_status", "completed_at", "ended"),
    [
        ("completed", None, True),
        ("failed", None, True),
        ("cancelled", None, True),
        ("canceled", "2026-01-01T00:00:00Z", True),
        ("queued", None, False),
        ("running", None, False),
        # A known active status wins over a completed_at that a buggy server left set.
        ("running", "2026-01-01T00:00:00Z", False),
        ("queued", WHEN, False),
        # Statuses this provider does not know: ended once completed_at is set, as the API's docs say.
        ("timeout", "2026-01-01T00:00:00Z", True),
        ("expired", WHEN, True),
        ("EXPIRED", "not a timestamp, but set", True),
        ("timeout", None, False),
        ("timeout", "", False),
        ("timeout", "   ", False),
        ("brand-new", 0, False),
        ("brand-new", {"at": "2026"}, False),
    ],
)
def test_run_has_ended(api_status: str, completed_at: object, ended: bool) -> None:
    assert run_has_ended(RunStatus.parse(api_status), completed_at) is ended


def test_unknown_statuses_are_never_terminal_nor_active_by_themselves() -> None:
    status = RunStatus.parse("timeout")
    assert status is RunStatus.UNKNOWN
    assert not status.is_terminal
    assert not status.is_active


@pytest.mark.parametrize(
    ("value", "spelled"),
    [("Timeout", "timeout"), (" expired ", "expired"), ("x" * 500, "x" * 80), ("bad\nline", "unknown"), (7, "unknown")],
)
def test_spelled_status_is_bounded_and_printable(value: object, spelled: str) -> None:
    assert spelled_status(value) == spelled


@pytest.mark.parametrize(
    ("value", "text"),
    [("Canceled", "cancelled"), (" CANCELLED ", "cancelled"), (RunStatus.CANCELLED, "cancelled"), (None, "")],
)
def test_status_text_has_one_spelling_of_cancelled(value: object, text: str) -> None:
    assert status_text(value) == text
    assert RunStatus.parse("canceled") is RunStatus.CANCELLED
