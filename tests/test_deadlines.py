"""The default poll interval, given in one place, and a run operator's wait budget (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airflow_provider_sixtyfour.deadlines import DEFAULT_POLL_SECONDS, poll_seconds, wait_budget
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError


def test_poll_seconds_defaults_only_when_none_is_given() -> None:
    assert poll_seconds(None) == DEFAULT_POLL_SECONDS == 5.0
    assert poll_seconds(0.5) == 0.5
    assert poll_seconds(timedelta(seconds=7)) == 7.0
    with pytest.raises(SixtyfourInputError, match="poll_interval"):
        poll_seconds(0)


def test_the_wait_budget_is_the_shorter_of_timeout_and_just_under_execution_timeout() -> None:
    assert wait_budget(None, None) is None
    assert wait_budget(60.0, None) == 60.0
    assert wait_budget(None, timedelta(seconds=100)) == 90.0  # 10 % less
    assert wait_budget(None, timedelta(hours=1)) == 3570.0  # at most 30 s less
    assert wait_budget(None, timedelta(seconds=1)) == 1.0  # at least 1 s
    assert wait_budget(60.0, timedelta(hours=1)) == 60.0
