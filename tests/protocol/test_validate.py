"""The one home of input checks: each returns the value as kept, or raises naming the parameter."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest

from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, is_final
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
NOW = 1_800_000_000.0


def test_job_ids_are_uuids_stripped() -> None:
    assert validate.job_id(f"  {JOB_ID}\n") == JOB_ID
    assert validate.job_id(uuid.UUID(JOB_ID)) == JOB_ID
    for bad in ("not-a-uuid", "", None, 42, f"{JOB_ID}/../x"):
        with pytest.raises(SixtyfourInputError, match="is not a Sixtyfour run id: run ids are UUIDs") as raised:
            validate.job_id(bad)
        assert is_final(raised.value)


def test_a_trigger_takes_any_non_empty_job_id() -> None:
    assert validate.job_id_given(" anything ") == "anything"
    for bad in ("", "  ", None, 7):
        with pytest.raises(SixtyfourInputError, match=r"job_id must be the run's id \(a non-empty string\)"):
            validate.job_id_given(bad)


def test_workflow_ids_are_one_path_segment() -> None:
    assert validate.workflow_id(" wf-1.a:b~c_d ") == "wf-1.a:b~c_d"
    for empty in ("", "   ", None):
        with pytest.raises(SixtyfourInputError, match="workflow_id is empty: pass the id of a workflow"):
            validate.workflow_id(empty)
    for bad in ("..", "a/b", "a%2F", "a b", "a?b", "x" * 201):
        with pytest.raises(SixtyfourInputError, match="is not a Sixtyfour workflow id"):
            validate.workflow_id(bad)


def test_a_long_bad_workflow_id_is_shown_cut() -> None:
    with pytest.raises(SixtyfourInputError, match=r"workflow_id '/{77}\.\.\.' is not") as raised:
        validate.workflow_id("/" * 300)
    assert "/" * 78 not in str(raised.value)


def test_workflow_id_lists_are_checked_each_and_kept_once() -> None:
    assert validate.workflow_ids("wf-a") == ("wf-a",)
    assert validate.workflow_ids(["wf-a", " wf-b", "wf-a"]) == ("wf-a", "wf-b")
    for bad in ([], (), 42, None):
        with pytest.raises(SixtyfourInputError, match="a non-empty list of them"):
            validate.workflow_ids(bad)
    with pytest.raises(SixtyfourInputError, match="workflow_id 'a/b' is not a Sixtyfour workflow id"):
        validate.workflow_ids(["wf-a", "a/b"])


def test_conn_ids() -> None:
    assert validate.conn_id("sixtyfour_default") == "sixtyfour_default"
    with pytest.raises(SixtyfourInputError, match="sixtyfour_conn_id must be a connection id, got ''"):
        validate.conn_id("")


def test_specs_override_is_a_json_dict() -> None:
    assert validate.specs_override(None) is None
    assert validate.specs_override({"limit": 3}) == {"limit": 3}
    with pytest.raises(SixtyfourInputError, match="specs_override must be a dict of block settings, got list"):
        validate.specs_override(["x"])
    with pytest.raises(SixtyfourInputError, match="specs_override is not JSON-serialisable"):
        validate.specs_override({"x": math.nan})


def test_webhook_payloads() -> None:
    assert validate.webhook_payload({"a": 1}) == {"a": 1}
    assert validate.webhook_payload(({"a": 1},)) == [{"a": 1}]
    assert validate.webhook_payload([]) == []  # the request builder takes it; a task refuses it (below)
    with pytest.raises(SixtyfourInputError, match="must be a dict or a list of dicts"):
        validate.webhook_payload("a,b")


def test_a_tasks_payload_may_be_json_text_but_not_empty() -> None:
    assert validate.task_payload(None) is None
    assert validate.task_payload('[{"a": 1}]') == [{"a": 1}]
    assert validate.task_payload(b'{"a": 1}') == {"a": 1}
    with pytest.raises(SixtyfourInputError, match="a string that is not JSON"):
        validate.task_payload("a,b")
    with pytest.raises(SixtyfourInputError, match="an empty list: there are no rows to enrich"):
        validate.task_payload("[]")


@pytest.mark.parametrize(("value", "expected"), [(True, True), ("False", False), (" true ", True)])
def test_flags(value: object, expected: bool) -> None:
    assert validate.flag(value, "overwrite") is expected


def test_a_flag_that_is_not_yes_or_no() -> None:
    with pytest.raises(SixtyfourInputError, match="overwrite must be True or False"):
        validate.flag("yes", "overwrite")


def test_list_filters() -> None:
    assert validate.list_status("Canceled") == "cancelled"
    assert validate.list_status(RunStatus.CANCELLED) == "cancelled"
    assert validate.list_status("active") == "active"
    with pytest.raises(SixtyfourInputError, match="is not a filter the API knows"):
        validate.list_status("failed")
    assert validate.list_limit(500) == 500
    for bad in (0, 501, True, 2.0):
        with pytest.raises(SixtyfourInputError, match="limit must be an integer from 1 to 500"):
            validate.list_limit(bad)


def test_formats() -> None:
    assert validate.result_format("ndjson") == "ndjson"
    with pytest.raises(SixtyfourInputError, match=r"format must be one of \['csv', 'json', 'ndjson'\], got 'xml'"):
        validate.result_format("xml")
    assert validate.download_format("json", save_json=True) == "json"
    with pytest.raises(SixtyfourInputError, match=r"download_format must be one of"):
        validate.download_format(None, save_json=True)
    with pytest.raises(SixtyfourInputError, match="download_format='json' needs save_json=True"):
        validate.download_format("json", save_json=False)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("results.csv", None),
        ("", "cannot be a file name"),
        ("..", "cannot be a file name"),
        ("a\x00b", "a NUL byte"),
        ("a\ud800", "a lone surrogate"),
        ("a\nb", r"the control character '\n'"),
        (".partial-0123", "looks like this provider's temporary files"),
    ],
)
def test_file_name_problems(name: str, problem: str | None) -> None:
    found = validate.file_name_problem(name)
    assert found == problem if problem is None else problem in str(found)


def test_whole_numbers() -> None:
    assert validate.whole_number(4, "max_concurrency", 1) == 4
    with pytest.raises(SixtyfourInputError, match="max_concurrency must be a whole number >= 1, got 0"):
        validate.whole_number(0, "max_concurrency", 1)
    with pytest.raises(SixtyfourInputError, match="max_attempts must be a whole number >= 1 and <= 100, got 101"):
        validate.whole_number(101, "max_attempts", 1, 100)
    with pytest.raises(SixtyfourInputError, match="n must be small, got True"):
        validate.whole_number(True, "n", 1, 9, "small")
    assert validate.is_real(1.5)
    assert not validate.is_real(math.inf)
    assert not validate.is_real(True)


def test_timeouts() -> None:
    assert validate.timeout_seconds(None) is None
    assert validate.timeout_seconds(timedelta(minutes=2)) == 120.0
    with pytest.raises(SixtyfourInputError, match="timeout must be at most 31622400 seconds"):
        validate.timeout_seconds(10**400)
    with pytest.raises(SixtyfourInputError, match="timeout must be positive"):
        validate.timeout_seconds(math.nan)
    with pytest.raises(SixtyfourInputError, match="a number of seconds or a timedelta, got str"):
        validate.timeout_seconds("soon")


def test_intervals() -> None:
    assert validate.interval(5) == 5.0
    assert validate.interval(1e12, bounded=False) == 1e12
    with pytest.raises(SixtyfourInputError, match="poll_interval must be at most 31622400 seconds"):
        validate.interval(1e12)
    for bad in (0, -1, True, "5", timedelta(seconds=5)):
        with pytest.raises(SixtyfourInputError, match="poll_interval must be a positive number of seconds"):
            validate.interval(bad)


def test_deadlines() -> None:
    assert validate.deadline(None) is None
    assert validate.deadline(NOW + 60, now=NOW) == NOW + 60
    for bad in ("tomorrow", math.inf, True):
        with pytest.raises(SixtyfourInputError, match="deadline must be an absolute time in epoch seconds"):
            validate.deadline(bad, now=NOW)
    for out in (-1.0, NOW + validate.MAX_WAIT_SECONDS + validate.CLOCK_SKEW_SECONDS + 1):
        with pytest.raises(SixtyfourInputError, match="is out of range"):
            validate.deadline(out, now=NOW)
