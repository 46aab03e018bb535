"""``land_results`` against the emulator over real HTTP, into ``file://`` destinations.

Every test's log lines (DEBUG and up, urllib3's included) are audited for signed URLs afterwards.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import traceback
from pathlib import Path
from typing import Any

import pytest
from helpers.connections import sixtyfour_connection_uri_json
from helpers.keys import TEST_API_KEY
from helpers.landing import BLOCKS3, FAST, MiB, Runs, assert_no_signed_url, provider_log_text

from airflow_provider_sixtyfour.emulator import STORAGE_ROUTE, EmulatorServer, FaultRule
from airflow_provider_sixtyfour.protocol.endpoints import DOWNLOAD_LINKS
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, SixtyfourValidationError
from airflow_provider_sixtyfour.transfers import (
    DownloadOptions,
    SixtyfourDownloadError,
    SixtyfourNoResultFilesError,
    SixtyfourResultsNotReadyError,
    SixtyfourTargetExistsError,
    land_results,
)
from airflow_provider_sixtyfour.transfers.streaming import DownloadAborted

# Every test here fails if a signed URL (or the key) reaches the provider's logs.
pytestmark = pytest.mark.usefixtures("audit_provider_logs")


def _files(folder: Path) -> list[str]:
    """Every entry under ``folder``, hidden partial files included."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _storage_requests(emulator: Any) -> int:
    return sum(emulator.stats()["requests"].get(STORAGE_ROUTE, {}).values())


def _link_requests(emulator: Any) -> int:
    return sum(emulator.stats()["requests"].get(DOWNLOAD_LINKS, {}).values())


def test_lands_every_file_verified(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=2 * MiB)
    out = tmp_path / "out"
    landed = land_results(hook, job_id, f"file://{out}/", options=FAST)

    names = ["block_01_webhook.csv", "block_02_enrich_lead.csv", "block_03_find_email.csv"]
    assert [f.filename for f in landed] == names
    assert _files(out) == names
    links = {link.filename: link for link in hook.get_download_links(job_id)}
    for f in landed:
        body = (out / f.filename).read_bytes()
        assert f.uri == f"file://{out}/{f.filename}"
        assert f.bytes == len(body) == links[f.filename].file_size == 2 * MiB
        assert f.sha256 == emulator.file_sha256(job_id, f.filename)
        assert f.row_count == links[f.filename].row_count
        assert f.block_number == links[f.filename].block_number
        assert (f.job_id, f.format, f.attempts) == (job_id, "csv", 1)
    records = json.dumps([f.to_dict() for f in landed])
    assert_no_signed_url(records, *(link.download_url for link in links.values()))


def test_log_lines_name_file_and_host_only(
    hook: Any, runs: Runs, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    urls = [link.download_url for link in hook.get_download_links(job_id)]
    land_results(hook, job_id, tmp_path, options=FAST)
    text = provider_log_text(caplog)
    host = urls[0].split("/")[2]  # type: ignore[union-attr]
    assert f"Downloading block_02_enrich_lead.csv (block 2, 2 rows) from {host}" in text
    # urllib3's DEBUG request line for the storage is there, with its query string redacted.
    assert "/block_02_enrich_lead.csv?<redacted> HTTP/1.1" in text
    assert_no_signed_url(text, *urls)


def test_final_selects_the_highest_block(hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=("webhook", "enrich_lead", "enrich_company", "find_email"))
    landed = land_results(hook, job_id, tmp_path, files="final", options=FAST)
    assert [(f.filename, f.block_number) for f in landed] == [("block_04_find_email.csv", 4)]
    assert _files(tmp_path) == ["block_04_find_email.csv"]


def test_glob_selection_and_allow_empty(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    landed = land_results(hook, job_id, tmp_path, files=["*enrich*", "block_01_*"], options=FAST)
    assert sorted(f.filename for f in landed) == ["block_01_webhook.csv", "block_02_enrich_lead.csv"]

    with pytest.raises(SixtyfourNoResultFilesError, match=r"none of the 3 result files .* match files='\*\.json'"):
        land_results(hook, job_id, tmp_path / "other", files="*.json", options=FAST)
    before = _storage_requests(emulator)
    assert land_results(hook, job_id, tmp_path / "other", files="*.json", allow_empty=True, options=FAST) == []
    assert _storage_requests(emulator) == before


def test_several_files_download_at_once(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    blocks = ("webhook", "enrich_lead", "enrich_company", "find_email", "find_phone")
    job_id = runs.finished(blocks=blocks, result_bytes=3 * MiB)
    # Every download is held for a moment by the storage: with 5 workers they overlap.
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="delay", seconds=0.3))
    seen: set[str] = set()
    lock = threading.Lock()
    peak = 0

    class CountingHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            nonlocal peak
            text = record.getMessage()
            with lock:
                if text.startswith("Downloading "):
                    seen.add(text.split()[1])
                    peak = max(peak, len(seen))
                elif text.startswith("Landed "):
                    seen.discard(text.split()[1])

    handler = CountingHandler()
    logging.getLogger("airflow_provider_sixtyfour.transfers").addHandler(handler)
    try:
        landed = land_results(
            hook, job_id, tmp_path, options=DownloadOptions(sha256=True, max_concurrency=5, retry_wait=0.05)
        )
    finally:
        logging.getLogger("airflow_provider_sixtyfour.transfers").removeHandler(handler)
    assert len(landed) == 5
    assert all(f.sha256 == emulator.file_sha256(job_id, f.filename) for f in landed)
    assert peak > 1, "downloads ran one after another"


def test_existing_target_fails_before_any_download(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    (tmp_path / "block_02_enrich_lead.csv").write_bytes(b"yesterday's data")
    before = _storage_requests(emulator)
    with pytest.raises(SixtyfourTargetExistsError) as caught:
        land_results(hook, job_id, tmp_path, options=FAST)
    assert f"file://{tmp_path}/block_02_enrich_lead.csv already exists" in str(caught.value)
    assert "overwrite=True" in str(caught.value)
    assert _storage_requests(emulator) == before
    assert _files(tmp_path) == ["block_02_enrich_lead.csv"]
    assert (tmp_path / "block_02_enrich_lead.csv").read_bytes() == b"yesterday's data"


def test_overwrite_replaces(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    (tmp_path / "block_02_enrich_lead.csv").write_bytes(b"yesterday's data")
    landed = land_results(hook, job_id, tmp_path, overwrite=True, options=FAST)
    assert len(landed) == 3
    body = (tmp_path / "block_02_enrich_lead.csv").read_bytes()
    assert body != b"yesterday's data"
    assert body == emulator.file_bytes(job_id, "block_02_enrich_lead.csv")
    assert len(_files(tmp_path)) == 3


def test_link_rejected_as_expired_gets_fresh_links(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="expire", count=1, filename="block_02_*"))
    links_before = _link_requests(emulator)
    landed = land_results(hook, job_id, tmp_path, options=FAST)
    by_name = {f.filename: f for f in landed}
    assert by_name["block_02_enrich_lead.csv"].attempts == 2
    assert by_name["block_01_webhook.csv"].attempts == 1
    assert _link_requests(emulator) - links_before == 2  # the first list, and one refresh
    assert by_name["block_02_enrich_lead.csv"].sha256 == emulator.file_sha256(job_id, "block_02_enrich_lead.csv")


def test_link_that_really_expires_mid_run(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Signed URLs live 2 s here; the storage holds one download 2.5 s, past its expiry, before checking it."""
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook

    with EmulatorServer(api_keys=[TEST_API_KEY], link_ttl_seconds=2.0) as server:
        monkeypatch.setenv("AIRFLOW_CONN_SIXTYFOUR_SHORT_LINKS", sixtyfour_connection_uri_json(server.base_url))
        with SixtyfourHook(sixtyfour_conn_id="sixtyfour_short_links") as short_hook:
            job_id = Runs(server, short_hook).finished(blocks=BLOCKS3)
            server.add_fault(FaultRule(route=STORAGE_ROUTE, kind="delay", seconds=2.5, count=1, filename="block_03_*"))
            landed = land_results(
                short_hook, job_id, tmp_path, options=DownloadOptions(sha256=True, max_concurrency=1, retry_wait=0.05)
            )
            by_name = {f.filename: f for f in landed}
            assert by_name["block_03_find_email.csv"].attempts == 2
            assert by_name["block_03_find_email.csv"].sha256 == server.file_sha256(job_id, "block_03_find_email.csv")
    assert _files(tmp_path) == sorted(by_name)


def test_truncated_body_is_retried_not_accepted(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=4 * MiB)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="truncate", fraction=0.5, count=1, filename="block_03_*"))
    landed = land_results(hook, job_id, tmp_path, options=FAST)
    final = next(f for f in landed if f.filename == "block_03_find_email.csv")
    assert final.attempts == 2
    assert final.bytes == 4 * MiB
    assert final.sha256 == emulator.file_sha256(job_id, final.filename)
    assert emulator.stats()["faults_fired"] == {"truncate": 1}
    assert _files(tmp_path) == sorted(f.filename for f in landed)


def test_always_truncated_fails_naming_the_file_and_leaves_nothing(
    emulator: Any, hook: Any, runs: Runs, tmp_path: Path
) -> None:
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=2 * MiB)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="truncate", fraction=0.3, filename="block_02_*"))
    with pytest.raises(SixtyfourDownloadError) as caught:
        land_results(hook, job_id, tmp_path, options=DownloadOptions(sha256=True, max_attempts=3, retry_wait=0.05))
    message = str(caught.value)
    assert "'block_02_enrich_lead.csv' could not be downloaded (3 attempts)" in message
    assert "2097152" in message  # the byte count it expected
    # The other files, landed before the failure, were rolled back: a retry starts clean.
    assert _files(tmp_path) == []


def test_null_download_url_is_refreshed(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    emulator.add_fault(FaultRule(route=DOWNLOAD_LINKS, kind="null_url", count=1, filename="block_03_*"))
    links_before = _link_requests(emulator)
    landed = land_results(hook, job_id, tmp_path, options=FAST)
    assert len(landed) == 3
    assert _link_requests(emulator) - links_before == 2
    assert all(f.sha256 == emulator.file_sha256(job_id, f.filename) for f in landed)


def test_always_null_download_url_fails_naming_the_file(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    emulator.add_fault(FaultRule(route=DOWNLOAD_LINKS, kind="null_url", filename="block_01_*"))
    with pytest.raises(SixtyfourDownloadError, match=r"'block_01_webhook\.csv' .*no download URL"):
        land_results(hook, job_id, tmp_path, options=DownloadOptions(sha256=True, max_attempts=2, retry_wait=0.05))
    assert _files(tmp_path) == []


def test_storage_server_errors_are_retried(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="status", status=503, count=2))
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="reset", count=1))
    landed = land_results(hook, job_id, tmp_path, options=FAST)
    assert sum(f.attempts for f in landed) == 3 + 3
    assert all(f.sha256 == emulator.file_sha256(job_id, f.filename) for f in landed)


def test_missing_object_is_not_retried(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="status", status=404, filename="block_02_*"))
    with pytest.raises(SixtyfourDownloadError, match=r"'block_02_enrich_lead\.csv' .*\(1 attempt\).*HTTP 404"):
        land_results(hook, job_id, tmp_path, options=FAST)
    assert _files(tmp_path) == []


def test_quoted_newlines_preserved_byte_for_byte(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    rows = [
        {"first_name": "Ada", "last_name": "Lovelace", "company": 'Engines, "Analytical"\nLondon', "note": "a\r\nb"},
        {"first_name": "Grace", "last_name": "Hopper", "company": "Navy", "note": "line one\nline two\n"},
    ]
    job_id = runs.finished(rows=rows, blocks=("webhook", "enrich_lead"), rows_out=40)
    landed = land_results(hook, job_id, tmp_path, options=FAST)
    for f in landed:
        body = (tmp_path / f.filename).read_bytes()
        assert f.sha256 == emulator.file_sha256(job_id, f.filename)
        assert body == emulator.file_bytes(job_id, f.filename)
    text = (tmp_path / "block_02_enrich_lead.csv").read_bytes().decode()
    assert "a\r\nb" in text
    parsed = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(parsed) == 40
    assert parsed[0]["company"] == 'Engines, "Analytical"\nLondon'
    assert parsed[0]["note"] == "a\r\nb"
    assert any("\n" in row["lead_summary"] for row in parsed)  # the enrichment's own multi-line cells


def test_failed_run_says_so(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3, outcome="failed", error_message="Email finder quota exhausted")
    with pytest.raises(SixtyfourResultsNotReadyError) as caught:
        land_results(hook, job_id, tmp_path, options=FAST)
    assert f"run {job_id} failed" in str(caught.value)
    assert "Email finder quota exhausted" in str(caught.value)
    assert caught.value.status == "failed"
    assert _storage_requests(emulator) == 0
    assert _files(tmp_path) == []


def test_running_run_says_so(hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3, duration_seconds=600, wait=False)
    with pytest.raises(SixtyfourResultsNotReadyError, match=r"has not completed: it is (queued|running)"):
        land_results(hook, job_id, tmp_path, options=FAST)


def test_json_results(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3, save_json=True)
    landed = land_results(hook, job_id, tmp_path, format="json", files="final", options=FAST)
    [final] = landed
    assert final.filename.endswith(".json")
    assert final.format == "json"
    assert isinstance(json.loads((tmp_path / final.filename).read_bytes()), list)
    assert final.sha256 == emulator.file_sha256(job_id, final.filename)


def test_json_when_the_run_did_not_save_json(hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    with pytest.raises(SixtyfourValidationError) as caught:
        land_results(hook, job_id, tmp_path, format="json", options=FAST)
    assert caught.value.status_code == 400
    assert "save_json=True" in str(caught.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"job_id": "not-a-run"}, "is not a Sixtyfour run id"),
        ({"format": "xml"}, "format must be one of"),
        ({"files": 7}, "files is a int"),
        ({"options": DownloadOptions(max_concurrency=0)}, "max_concurrency must be"),
        ({"options": DownloadOptions(part_size=1024)}, "part_size must be at least 5 MiB"),
    ],
)
def test_bad_input_fails_before_any_request(
    emulator: Any, hook: Any, tmp_path: Path, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"job_id": "3f2b9c1e-8a4d-4c1b-9f0e-2a7d6b5c4e31", **kwargs}
    job_id = arguments.pop("job_id")
    with pytest.raises(SixtyfourInputError, match=message):
        land_results(hook, job_id, tmp_path, **arguments)
    assert emulator.stats()["requests_total"] == 0


def test_abort_stops_and_leaves_nothing(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=8 * MiB)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="delay", seconds=0.5))
    abort = threading.Event()
    timer = threading.Timer(0.2, abort.set)
    timer.start()
    try:
        with pytest.raises(DownloadAborted, match="stopped before it completed"):
            land_results(hook, job_id, tmp_path, options=FAST, abort=abort)
    finally:
        timer.cancel()
    assert _files(tmp_path) == []


def test_errors_never_carry_the_signed_url(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    urls = [link.download_url for link in hook.get_download_links(job_id)]
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="reset"))
    with pytest.raises(SixtyfourDownloadError) as caught:
        land_results(hook, job_id, tmp_path, options=DownloadOptions(sha256=True, max_attempts=2, retry_wait=0.05))
    assert "127.0.0.1" in str(caught.value) or "Connection" in str(caught.value)
    # Nothing in the traceback either (chained exceptions would carry requests' message, URL and all).
    assert_no_signed_url("".join(traceback.format_exception(caught.value)), *urls)


class _Terminated(Exception):
    """Stands in for the exception Airflow's SIGTERM handler raises in the task's main thread."""


def test_kill_while_waiting_undoes_what_landed(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    import os
    import signal
    import time

    job_id = runs.finished(blocks=BLOCKS3)
    # block_03 is held by the storage; the other two land, then the task is "killed".
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="delay", seconds=3.0, filename="block_03_*"))

    def on_signal(signum: int, frame: object) -> None:
        raise _Terminated

    def kill_when_two_landed() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if (tmp_path / "block_01_webhook.csv").exists() and (tmp_path / "block_02_enrich_lead.csv").exists():
                break
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, on_signal)
    killer = threading.Thread(target=kill_when_two_landed)
    try:
        killer.start()
        with pytest.raises(_Terminated):
            land_results(hook, job_id, tmp_path, options=FAST)
    finally:
        killer.join(30)
        signal.signal(signal.SIGUSR1, previous)
    assert _files(tmp_path) == []


def test_sha256_is_off_by_default_and_sizes_still_verify(emulator: Any, hook: Any, runs: Runs, tmp_path: Path) -> None:
    import hashlib

    job_id = runs.finished(blocks=BLOCKS3, result_bytes=1 * MiB)
    landed = land_results(hook, job_id, tmp_path, options=DownloadOptions(retry_wait=0.05))
    assert len(landed) == 3
    for f in landed:
        body = (tmp_path / f.filename).read_bytes()
        assert f.sha256 is None
        assert f.bytes == len(body) == 1 * MiB
        assert hashlib.sha256(body).hexdigest() == emulator.file_sha256(job_id, f.filename)
