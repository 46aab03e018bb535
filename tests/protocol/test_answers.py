"""Reading whole answers: every record strict JSON, about the run asked for, or a clear response error."""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_sixtyfour.protocol import endpoints
from airflow_provider_sixtyfour.protocol.answers import read_answer
from airflow_provider_sixtyfour.protocol.errors import SixtyfourResponseError
from airflow_provider_sixtyfour.protocol.jsonable import to_jsonable
from airflow_provider_sixtyfour.protocol.statuses import RunStatus

JOB_ID = "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31"
OTHER = "9d1c0b2a-7e6f-4a5b-8c9d-0e1f2a3b4c5d"
LIVE_PATH = f"GET /workflows/runs/{JOB_ID}/live_status answered something this provider cannot read: "


def _live(**fields: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"run_id": JOB_ID, "workflow_id": "wf-1", "overall_status": "running"}
    data.update(fields)
    return data


def _read(call: endpoints.ApiCall[Any], body: bytes | str, status: int = 200) -> Any:
    return read_answer(call, status, body.encode() if isinstance(body, str) else body, {})


def _message(call: endpoints.ApiCall[Any], body: bytes | str, status: int = 200) -> str:
    with pytest.raises(SixtyfourResponseError) as raised:
        _read(call, body, status)
    return str(raised.value)


# -- item 8: NaN, Infinity and numbers no record can hold --------------------------------------------

NON_FINITE_LIVE = (
    '{"run_id": "{run}", "workflow_id": "wf-1", "overall_status": "running", "overall_progress_percentage": NaN, '
    '"total_blocks": Infinity, "completed_blocks": -Infinity, "current_block_sequence": 1e400, '
    '"blocks": [{"block_name": "enrich", "sequence_number": 1, "status": "running", "progress_percentage": NaN, '
    '"processed_count": 99999999999999999999999, "total_count": 1e999, "metrics": {"row_count": NaN, '
    '"cost": Infinity, "deep": [1.5, -Infinity]}}]}'
).replace("{run}", JOB_ID)


def test_non_finite_numbers_in_a_live_status_read_as_missing_and_the_record_is_strict_json() -> None:
    live = _read(endpoints.get_live_status(JOB_ID), NON_FINITE_LIVE)
    assert live.progress_percentage == 0.0
    assert (live.total_blocks, live.completed_blocks, live.current_block_sequence) == (0, 0, None)
    block = live.blocks[0]
    assert (block.progress_percentage, block.processed_count, block.total_count) == (0.0, 0, 0)
    assert block.metrics == {"row_count": None, "cost": None, "deep": [1.5, None]}
    assert block.row_count is None
    json.dumps(to_jsonable(live), allow_nan=False)


def test_non_finite_numbers_in_lists_and_links_read_as_missing() -> None:
    runs = _read(
        endpoints.list_runs(),
        (
            '[{"job_id": "{run}", "workflow_id": "wf-1", "status": "running", "duration_ms": NaN, '
            '"blocks_count": 1e400, "metrics": {"credits": Infinity}}]'
        ).replace("{run}", JOB_ID),
    )
    assert (runs[0].duration_ms, runs[0].blocks_count, runs[0].metrics) == (None, 0, {"credits": None})
    links = _read(
        endpoints.get_download_links(JOB_ID),
        '[{"filename": "a.csv", "storage_bucket": "b", "row_count": NaN, "block_number": Infinity, '
        '"file_size": 1e400, "download_expires_in_seconds": -Infinity}]',
    )
    assert (links[0].row_count, links[0].block_number, links[0].file_size) == (0, None, None)
    json.dumps(to_jsonable(runs + links), allow_nan=False)


def test_a_required_number_out_of_range_is_a_response_error() -> None:
    body = json.dumps(_live(blocks=[{"block_name": "b", "sequence_number": 10**30, "status": "running"}]))
    assert (
        _message(endpoints.get_live_status(JOB_ID), body) == LIVE_PATH + "required field 'sequence_number' is missing"
    )


def test_to_jsonable_never_emits_nan_whatever_a_record_holds() -> None:
    assert to_jsonable({"a": float("nan"), "b": [float("inf")], "c": 1.5}) == {"a": None, "b": [None], "c": 1.5}


# -- item 12: deep nesting, duplicate keys, odd bodies -----------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("[" * 100_000 + "]" * 100_000, "HTTP 200 answer nests lists or objects too deeply to read"),
        (
            json.dumps(
                _live(
                    blocks=[
                        {
                            "block_name": "b",
                            "sequence_number": 1,
                            "status": "running",
                            "metrics": {"m": json.loads("[" * 40 + "]" * 40)},
                        }
                    ]
                )
            ),
            "field 'metrics' is nested deeper than 32 levels",
        ),
        (
            f'{{"run_id": "{JOB_ID}", "run_id": "{OTHER}", "workflow_id": "w", "overall_status": "running"}}',
            "HTTP 200 answer names the key 'run_id' twice in one object, so it is not clear which value is meant",
        ),
        ("", "HTTP 200 answer is empty, where the API always answers JSON; is a proxy or cache in the way?"),
        (f'{{"run_id": "{JOB_ID}", "workflow_id": "w", "over', "HTTP 200 answer is cut short"),
        (b'{"run_id": "\xc3\x28"}', "HTTP 200 answer is not UTF-8 text (byte 12 cannot be decoded)"),
        ("[]", "expected a JSON object for a live status, got a list"),
        ('"running"', "expected a JSON object for a live status, got a string"),
        ("null", "expected a JSON object for a live status, got null"),
        (json.dumps(_live(overall_status=3)), "field 'overall_status' should be str, got int"),
        (json.dumps(_live(run_id="")), "required field 'run_id' is empty"),
        (json.dumps(_live(blocks={"b": 1})), "expected a JSON list of blocks, got an object"),
    ],
    ids=[
        "recursion",
        "metrics-too-deep",
        "duplicate-key",
        "empty",
        "truncated",
        "not-utf8",
        "list-for-dict",
        "string-for-dict",
        "null",
        "wrong-type",
        "empty-id",
        "dict-for-list",
    ],
)
def test_unreadable_live_status_answers_are_response_errors(body: str | bytes, problem: str) -> None:
    message = _message(endpoints.get_live_status(JOB_ID), body)
    assert message.startswith(LIVE_PATH)
    assert problem in message


def test_a_204_or_304_without_body_is_an_empty_answer_not_a_record() -> None:
    assert "HTTP 204 answer is empty" in _message(endpoints.list_runs(), b"", 204)
    assert "HTTP 304 answer is empty" in _message(endpoints.cancel_run(JOB_ID), b"  \r\n", 304)


# -- item 9: an answer about another run -------------------------------------------------------------


def test_a_live_status_naming_another_run_is_a_response_error() -> None:
    message = _message(endpoints.get_live_status(JOB_ID), json.dumps(_live(run_id=OTHER, overall_status="completed")))
    assert message == (
        f"{LIVE_PATH}the answer is about run '{OTHER}', not the run asked for ('{JOB_ID}'); is a cache or proxy "
        "mixing up answers?"
    )


def test_the_same_run_in_upper_case_is_the_same_run() -> None:
    live = _read(endpoints.get_live_status(JOB_ID), json.dumps(_live(run_id=JOB_ID.upper())))
    assert live.status is RunStatus.RUNNING


def test_a_cancel_answer_naming_another_run_is_a_response_error() -> None:
    message = _message(endpoints.cancel_run(JOB_ID), json.dumps({"job_id": OTHER, "status": "cancelled"}))
    assert f"the answer is about run '{OTHER}', not the run asked for ('{JOB_ID}')" in message


def test_a_start_answer_for_another_workflow_or_without_a_run_id_is_a_response_error() -> None:
    call = endpoints.run_workflow("wf-1", idempotency_key="k")
    other = _message(call, json.dumps({"job_id": JOB_ID, "workflow_id": "wf-2", "status": "queued"}))
    assert "the answer is about workflow 'wf-2', not the workflow asked for ('wf-1')" in other
    bad_id = _message(call, json.dumps({"job_id": "../../etc", "workflow_id": "wf-1", "status": "queued"}))
    assert "field 'job_id' is not a run id (a UUID), got '../../etc'" in bad_id


def test_a_workflow_answer_for_another_workflow_is_a_response_error() -> None:
    message = _message(endpoints.get_workflow("wf-1"), json.dumps({"id": "wf-9", "name": "x", "status": "ready"}))
    assert "the answer is about workflow 'wf-9', not the workflow asked for ('wf-1')" in message


# -- item 11: unknown statuses that have ended -------------------------------------------------------


def test_an_unknown_status_with_completed_at_has_ended_and_keeps_its_spelling() -> None:
    live = _read(
        endpoints.get_live_status(JOB_ID),
        json.dumps(_live(overall_status="Timeout", completed_at="2026-01-01T00:00:00Z")),
    )
    assert (live.status, live.reported_status, live.has_ended) == (RunStatus.UNKNOWN, "timeout", True)
    still = _read(endpoints.get_live_status(JOB_ID), json.dumps(_live(overall_status="expired")))
    assert (still.reported_status, still.has_ended) == ("expired", False)
    (record,) = _read(
        endpoints.list_runs(),
        json.dumps([{"job_id": JOB_ID, "workflow_id": "w", "status": "expired", "completed_at": "garbled"}]),
    )
    assert (record.status, record.reported_status, record.has_ended) == (RunStatus.UNKNOWN, "expired", True)
