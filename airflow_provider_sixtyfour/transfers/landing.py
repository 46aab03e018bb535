"""Land a run's result files in object storage: complete, verified, several at once, or not at all.

:func:`land_results` is the one implementation behind ``SixtyfourDownloadResultsOperator`` and the
run operator's ``download_to=``.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from airflow_provider_sixtyfour.protocol import endpoints, validate
from airflow_provider_sixtyfour.protocol.describe import describe_end
from airflow_provider_sixtyfour.protocol.errors import SixtyfourValidationError
from airflow_provider_sixtyfour.protocol.retry import backoff
from airflow_provider_sixtyfour.protocol.statuses import RunStatus
from airflow_provider_sixtyfour.transfers.attempts import FatalDownloadError, LinkRejected, RetryableDownloadError
from airflow_provider_sixtyfour.transfers.destination import Destination, resolve_destination
from airflow_provider_sixtyfour.transfers.errors import (
    SixtyfourDownloadError,
    SixtyfourNoResultFilesError,
    SixtyfourResultsNotReadyError,
    SixtyfourTargetExistsError,
)
from airflow_provider_sixtyfour.transfers.links import LinkGone, LinkSource
from airflow_provider_sixtyfour.transfers.naming import target_names
from airflow_provider_sixtyfour.transfers.options import DownloadOptions
from airflow_provider_sixtyfour.transfers.records import LandedFile
from airflow_provider_sixtyfour.transfers.selection import (
    FileSelection,
    describe_selection,
    select_files,
    validate_selection,
)
from airflow_provider_sixtyfour.transfers.session import new_session
from airflow_provider_sixtyfour.transfers.streaming import (
    DownloadAborted,
    MiB,
    install_urllib3_redaction,
    stream_url,
)

if TYPE_CHECKING:
    import requests

    from airflow_provider_sixtyfour.protocol.models import DownloadLink, LiveStatus

log = logging.getLogger(__name__)


class ResultsApi(Protocol):
    """The two calls landing needs; :class:`~airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook` has both."""

    def get_live_status(self, job_id: str) -> LiveStatus: ...

    def get_download_links(self, job_id: str, format: str = "csv") -> list[DownloadLink]: ...


def land_results(
    hook: ResultsApi,
    job_id: str,
    destination: object,
    *,
    destination_conn_id: str | None = None,
    files: FileSelection = "all",
    format: str = "csv",
    overwrite: bool = False,
    allow_empty: bool = False,
    options: DownloadOptions | None = None,
    abort: threading.Event | None = None,
) -> list[LandedFile]:
    """Download the run's result files to ``destination`` and return what landed.

    Every target appears only complete and verified (byte count against ``Content-Length`` and
    ``file_size``, SHA-256 computed on the way). If any file fails for good, the files this call
    created are removed again, so a retry of the task starts clean; files it replaced (with
    ``overwrite=True``) stay replaced.

    :param hook: a :class:`~airflow_provider_sixtyfour.hooks.sixtyfour.SixtyfourHook`.
    :param job_id: the run's id.
    :param destination: a folder: a URI (``s3://bucket/prefix/``, ``file:///data/out/``), a local
        path, or an ``ObjectStoragePath``. Files land as ``<destination>/<filename>``.
    :param destination_conn_id: the Airflow connection for the destination's store (e.g. an ``aws``
        connection for ``s3://``); overrides one given inside the URI.
    :param files: which files: ``"all"``, ``"final"``, pattern(s), or a predicate (see
        :mod:`~airflow_provider_sixtyfour.transfers.selection`).
    :param format: ``"csv"``, ``"json"`` or ``"ndjson"`` (the last two need the run started with
        ``save_json=True``).
    :param overwrite: replace existing targets; when False an existing target fails the call before
        anything is downloaded.
    :param allow_empty: succeed with no files when the run has none (or none match ``files``).
    :param options: tuning: concurrency, attempts, chunk and part sizes, timeouts.
    :param abort: set it (from another thread, e.g. ``on_kill``) to stop every download; nothing
        partial is left behind.
    :raises SixtyfourResultsNotReadyError: the run is not completed.
    :raises SixtyfourNoResultFilesError: no result files, or none selected, and not ``allow_empty``.
    :raises SixtyfourTargetExistsError: a target exists and ``overwrite`` is False.
    :raises SixtyfourResultNameError: a selected file's name cannot land (before any download).
    :raises SixtyfourDestinationError: the bucket is missing or a write failed.
    :raises SixtyfourDownloadError: a file could not be downloaded whole after every try.
    """
    opts = (options or DownloadOptions()).validate()
    selection = validate_selection(files)
    job_id = validate.job_id(job_id)
    format = validate.result_format(format)
    dest = resolve_destination(destination, destination_conn_id)

    _require_completed(hook, job_id)
    source = LinkSource(lambda: hook.get_download_links(job_id, format))
    all_links = _load_links(source, job_id, format)
    chosen = _choose(all_links, selection, job_id, allow_empty)
    if not chosen:
        return []
    names = target_names(chosen, dest.max_name_bytes())

    dest.prepare()
    existed = {name: dest.exists(dest.target(name)) for name in names}
    if not overwrite:
        for name, present in existed.items():
            if present:
                raise SixtyfourTargetExistsError(dest.uri(dest.target(name)))

    install_urllib3_redaction()
    log.info(
        "Landing %d result file(s) of run %s in %s (%s, overwrite=%s, %d at a time).",
        len(chosen),
        job_id,
        dest.describe(),
        format,
        overwrite,
        min(opts.max_concurrency, len(chosen)),
    )
    job = _LandingJob(dest, source, job_id, format, overwrite, opts, abort or threading.Event())
    return job.run(chosen, names, existed)


def _require_completed(hook: ResultsApi, job_id: str) -> None:
    live = hook.get_live_status(job_id)
    if live.status is RunStatus.COMPLETED:
        return
    if live.has_ended:  # failed, cancelled, or a status this provider does not know
        detail = f"{describe_end(live)}, so it has no results to download"
    else:
        detail = (
            f"run {job_id} has not completed: it is {live.reported_status} ({live.progress_percentage:.0f}% done). "
            "Wait for it first (SixtyfourWorkflowRunSensor, or the run operator, which waits by default)"
        )
    raise SixtyfourResultsNotReadyError(job_id, live.status.value, detail)


def _load_links(source: LinkSource, job_id: str, format: str) -> list[DownloadLink]:
    try:
        return source.load()
    except SixtyfourValidationError as exc:
        if format not in endpoints.SAVE_JSON_FORMATS:
            raise
        hint = (
            f"{exc.api_message}. format={format!r} needs a run started with save_json=True "
            "(SixtyfourRunWorkflowOperator(save_json=True)); download format='csv' instead"
        )
        raise SixtyfourValidationError(exc.status_code, exc.method, exc.path, hint, details=exc.details) from None


def _choose(links: list[DownloadLink], selection: FileSelection, job_id: str, allow_empty: bool) -> list[DownloadLink]:
    if not links:
        if allow_empty:
            log.info("Run %s completed with no result files; nothing to land (allow_empty=True).", job_id)
            return []
        raise SixtyfourNoResultFilesError(
            f"run {job_id} completed but has no result files; pass allow_empty=True if that is expected"
        )
    chosen = select_files(links, selection)
    if not chosen:
        available = ", ".join(repr(link.filename) for link in links)
        message = f"none of the {len(links)} result files of run {job_id} match files={describe_selection(selection)}"
        if allow_empty:
            log.info("%s (files: %s); nothing to land (allow_empty=True).", message, available)
            return []
        raise SixtyfourNoResultFilesError(f"{message}; the run has: {available}")
    return chosen


@dataclass(eq=False)
class _LandingJob:
    """One call's downloads: a thread per file up to ``max_concurrency``, and the rollback."""

    dest: Destination
    source: LinkSource
    job_id: str
    format: str
    overwrite: bool
    options: DownloadOptions
    abort: threading.Event
    _landed_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _landed: list[str] = field(default_factory=list, init=False, repr=False)

    def run(self, links: list[DownloadLink], names: list[str], existed: dict[str, bool]) -> list[LandedFile]:
        session = new_session(self.options.max_concurrency)
        workers = min(self.options.max_concurrency, len(links))
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sixtyfour-download")
        try:
            futures = [
                pool.submit(self._land_one, session, link, name) for link, name in zip(links, names, strict=True)
            ]
            _done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failure = next((f.exception() for f in futures if f.done() and f.exception() is not None), None)
            if failure is None:
                return [f.result() for f in futures]
            # One file failed for good: stop the others, then undo what this call landed.
            self.abort.set()
            for future in pending:
                future.cancel()
            wait(futures)
            error = _first_real_error(futures) or failure
        except BaseException:
            # Killed (or interrupted) while waiting: stop the threads, which remove their partial files,
            # and undo what this call landed, so that a retry starts clean.
            self.abort.set()
            pool.shutdown(wait=True, cancel_futures=True)
            self._roll_back(existed)
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            session.close()
        self._roll_back(existed)
        raise error

    def _roll_back(self, existed: dict[str, bool]) -> None:
        with self._landed_lock:
            landed = list(self._landed)
        for name in landed:
            if existed.get(name):
                continue  # it replaced a file that was there before; removing it would lose both
            target = self.dest.target(name)
            try:
                self.dest.remove(target)
                log.warning(
                    "Removed %s, landed before another file failed, so a retry starts clean.", self.dest.uri(target)
                )
            except Exception as exc:
                log.warning("Could not remove %s after another file failed: %s", self.dest.uri(target), exc)

    def _land_one(self, session: requests.Session, first: DownloadLink, name: str) -> LandedFile:
        opts = self.options
        filename = first.filename
        target = self.dest.target(name)
        reason = "no attempt was made"
        attempts = 0
        while attempts < opts.max_attempts:
            if self.abort.is_set():
                raise DownloadAborted(filename)
            try:
                # The shared cache: refreshed when this link is null or about to expire.
                link = self.source.usable(first)
            except LinkGone:
                raise SixtyfourDownloadError(filename, "the run's download links no longer list it", attempts) from None
            attempts += 1
            if not link.download_url:
                reason = "the API gave no download URL for it (signing failed)"
                log.warning("%s: %s (try %d of %d).", filename, reason, attempts, opts.max_attempts)
                self._pause(attempts)
                continue
            log.info(
                "Downloading %s (block %s, %d rows) from %s to %s (try %d of %d).",
                filename,
                link.block_number,
                link.row_count,
                link.host,
                self.dest.uri(target),
                attempts,
                opts.max_attempts,
            )
            sink = self.dest.open_sink(
                name,
                overwrite=self.overwrite,
                part_size=opts.part_size,
                fsync=opts.fsync,
                exclusive=opts.exclusive_create,
            )
            try:
                result = stream_url(
                    session,
                    link.download_url,
                    sink,
                    label=filename,
                    expected_size=link.file_size,
                    chunk_size=opts.chunk_size,
                    timeout=(opts.connect_timeout, opts.read_timeout),
                    abort=self.abort,
                    sha256=opts.sha256,
                    min_throughput=opts.min_throughput,
                    throughput_window=opts.throughput_window,
                    max_expansion=opts.max_expansion,
                )
                sink.commit()
            except LinkRejected as exc:
                sink.abort()
                reason = str(exc)
                log.warning(
                    "%s: %s; asking for a fresh link (try %d of %d).", filename, reason, attempts, opts.max_attempts
                )
                self.source.invalidate(link)
                continue
            except RetryableDownloadError as exc:
                sink.abort()
                reason = str(exc)
                log.warning("%s: %s (try %d of %d).", filename, reason, attempts, opts.max_attempts)
                self._pause(attempts)
                continue
            except FatalDownloadError as exc:
                sink.abort()
                raise SixtyfourDownloadError(filename, str(exc), attempts) from None
            except BaseException:
                sink.abort()
                raise
            with self._landed_lock:
                self._landed.append(name)
            log.info(
                "Landed %s at %s: %d bytes in %.2f s (%.1f MiB/s)%s.",
                filename,
                self.dest.uri(target),
                result.bytes,
                result.seconds,
                result.bytes / MiB / result.seconds if result.seconds > 0 else 0.0,
                f", sha256 {result.sha256}" if result.sha256 else "",
            )
            return LandedFile(
                uri=self.dest.uri(target),
                filename=filename,
                bytes=result.bytes,
                sha256=result.sha256,
                row_count=link.row_count,
                block_number=link.block_number,
                format=self.format,
                job_id=self.job_id,
                attempts=attempts,
            )
        raise SixtyfourDownloadError(filename, reason, attempts)

    def _pause(self, attempts: int) -> None:
        if attempts >= self.options.max_attempts:
            return
        self.abort.wait(backoff(attempts, self.options.retry_wait))


def _first_real_error(futures: list[Future[LandedFile]]) -> BaseException | None:
    """The first failure that is not just another thread stopping because of it."""
    for future in futures:
        if future.cancelled() or not future.done():
            continue
        exc = future.exception()
        if exc is not None and not isinstance(exc, DownloadAborted):
            return exc
    return None
