"""The poller's failure policy: which failed cycle retries, falls back to per-run polling, or fails everyone."""

from __future__ import annotations

from airflow_provider_sixtyfour.protocol.errors import (
    SixtyfourAuthError,
    SixtyfourForbiddenError,
    SixtyfourInputError,
    SixtyfourNotFoundError,
    SixtyfourRateLimitError,
    SixtyfourServerError,
    SixtyfourTransportError,
)
from airflow_provider_sixtyfour.triggers.failures import (
    MAX_ERROR_WAIT,
    Verdict,
    backoff,
    cycle_failed,
    live_failure_is_retried,
)

LIST = "/workflows/runs"


def test_transient_failures_retry_with_a_doubling_capped_wait() -> None:
    for err in (
        SixtyfourRateLimitError(429, "GET", LIST, "slow down"),
        SixtyfourServerError(503, "GET", LIST, "down"),
        SixtyfourTransportError("GET", LIST, "reset"),
    ):
        decision = cycle_failed(err, failures=1, interval=5.0, direct_only=False)
        assert (decision.verdict, decision.wait) == (Verdict.RETRY, 5.0)
    assert [backoff(5.0, n) for n in (1, 2, 3, 4, 5)] == [5.0, 10.0, 20.0, 40.0, MAX_ERROR_WAIT]
    assert backoff(90.0, 3) == 90.0  # never shorter than the interval itself
    assert live_failure_is_retried(SixtyfourServerError(502, "GET", LIST, "bad gateway"))


def test_a_refused_list_falls_back_to_per_run_polling_once() -> None:
    forbidden = SixtyfourForbiddenError(403, "GET", LIST, "feature off")
    assert cycle_failed(forbidden, 1, 5.0, direct_only=False).verdict is Verdict.DIRECT
    missing = SixtyfourNotFoundError(404, "GET", LIST, "no route")
    assert cycle_failed(missing, 1, 5.0, direct_only=False).verdict is Verdict.DIRECT
    # Already polling each run: a refusal now ends every subscription.
    assert cycle_failed(forbidden, 1, 5.0, direct_only=True).verdict is Verdict.FAIL_ALL


def test_a_refused_key_or_a_bug_fails_everyone() -> None:
    refused = cycle_failed(SixtyfourAuthError(401, "GET", LIST, "bad key"), 1, 5.0, direct_only=False)
    assert (refused.verdict, refused.wait, refused.unexpected) == (Verdict.FAIL_ALL, 5.0, False)
    bug = cycle_failed(KeyError("x"), 1, 5.0, direct_only=False)
    assert (bug.verdict, bug.unexpected) == (Verdict.FAIL_ALL, True)
    assert not cycle_failed(SixtyfourInputError("bad id"), 1, 5.0, direct_only=False).unexpected
    assert not live_failure_is_retried(SixtyfourNotFoundError(404, "GET", LIST, "no such run"))
