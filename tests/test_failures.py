"""``fail_without_retries``: final Sixtyfour errors become ``AirflowFailException``; the rest pass as they are."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from airflow_provider_sixtyfour.failures import fail_without_retries
from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourConflictError,
    SixtyfourInputError,
    SixtyfourServerError,
    error_for_response,
)
from airflow_provider_sixtyfour.transfers.errors import SixtyfourResultsNotReadyError, SixtyfourTargetExistsError


@pytest.mark.parametrize(
    "error",
    [
        SixtyfourInputError("job_id must be a UUID"),
        error_for_response(401, "GET", "/workflows", b'{"detail": "Invalid API key"}'),
        SixtyfourTargetExistsError("file:///landing/a.csv"),
        SixtyfourResultsNotReadyError("j", "failed", "run j failed (Provider down)"),
        SixtyfourResultsNotReadyError("j", "canceled", "run j was cancelled"),
    ],
    ids=["input", "401", "target-exists", "run-failed", "run-canceled"],
)
def test_final_errors_fail_the_task_with_the_same_message(error: Exception) -> None:
    with pytest.raises(AirflowFailException) as raised, fail_without_retries():
        raise error
    assert str(raised.value) == str(error)
    assert raised.value.__cause__ is error


@pytest.mark.parametrize(
    "error",
    [
        SixtyfourServerError(503, "GET", "/workflows", "Service Unavailable"),
        SixtyfourConflictError(409, "POST", "/workflows/run", "in use"),
        SixtyfourResultsNotReadyError("j", "running", "run j has not completed"),
        AirflowException("not ours"),
        KeyError("not ours either"),
    ],
    ids=["503", "409", "run-running", "airflow", "other"],
)
def test_other_errors_are_left_to_airflows_retries(error: Exception) -> None:
    with pytest.raises(type(error)) as raised, fail_without_retries():
        raise error
    assert raised.value is error
