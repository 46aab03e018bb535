"""``SixtyfourDownloadResultsOperator``: land a run's result files in object storage.

Importing this module is cheap: the transfer code (``requests``, fsspec filesystems) loads when the
task runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator

from airflow_provider_sixtyfour import connection_form
from airflow_provider_sixtyfour.failures import fail_without_retries
from airflow_provider_sixtyfour.hooks.lazy import sync_hook
from airflow_provider_sixtyfour.lineage.mixin import SixtyfourLineageMixin
from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.transfers.announce import DEFAULT_ASSET_ALIAS, land_and_announce, outlets_with_alias

__all__ = ["DEFAULT_ASSET_ALIAS", "SixtyfourDownloadResultsOperator"]

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_sixtyfour.protocol.models import DownloadLink
    from airflow_provider_sixtyfour.transfers import DownloadOptions


class SixtyfourDownloadResultsOperator(SixtyfourLineageMixin, BaseOperator):
    """Download a completed run's result files into object storage, complete and verified, or not at all.

    Each file streams from its signed URL straight to ``destination`` chunk by chunk (memory stays
    flat whatever the size; ``max_concurrency`` files at once) and becomes visible there only once
    complete: locally through a temporary ``.partial-<id>`` file renamed into place, on S3/GCS
    through the upload that publishes the object only on completion. Byte counts are checked against
    ``Content-Length`` and the API's ``file_size`` whatever the content encoding, and reading stops at
    the first byte past either; a truncated, too long or too slow body (below
    ``DownloadOptions.min_throughput``), an expired (400/403) or null signed URL is retried with fresh
    links up to ``max_attempts`` times. Two selected files of different blocks with the same name land
    as ``block_NN_<name>``. If a file fails for good, the files this task landed anew are removed again
    so that a retry starts clean. Input a retry cannot fix (a malformed id, an existing target, a
    format the run did not save, a destination without a folder or bucket) fails the task at once,
    without Airflow's retries.

    Returns (and pushes to XCom) one JSON record per landed file: ``uri``, ``filename``, ``bytes``,
    ``sha256``, ``row_count``, ``block_number``, ``format``, ``job_id``, ``attempts``.

    **Assets.** Every landed file is added as an Asset event with its own URI (e.g.
    ``s3://bucket/sixtyfour/2024-06-01/block_03_find_email.csv``) to the Asset alias ``asset_alias``
    (``"sixtyfour-results"`` by default, added to ``outlets``), so a downstream DAG can be scheduled
    with ``schedule=[AssetAlias("sixtyfour-results")]``; the event's ``extra`` is the file's record.
    Assets declared in ``outlets`` (e.g. ``Asset("s3://bucket/sixtyfour/")``) get their usual event
    on success, with ``extra`` listing the landed files. On Airflow 2 the same works with Datasets.

    **Lineage.** With the OpenLineage provider installed, each landed file is an output dataset with
    its columns, row count and size, beside the run's facets (see :mod:`airflow_provider_sixtyfour.lineage`).

    :param job_id: the run's id, typically ``"{{ ti.xcom_pull(task_ids='run', key='job_id') }}"``.
        Templated.
    :param destination: the folder to land files in: a URI such as
        ``"s3://bucket/sixtyfour/{{ ds }}/"`` or ``"file:///data/sixtyfour/"``, or an
        ``ObjectStoragePath``. Every scheme Airflow's ObjectStoragePath supports works. Templated.
    :param destination_conn_id: the Airflow connection of the destination's store (an ``aws``
        connection for ``s3://``, ...); None uses the store's default credentials. Templated.
    :param files: which result files: ``"all"`` (default); ``"final"`` for the workflow's final output
        (the highest ``block_number``); a filename or glob pattern, or a list of them (``"*.csv"``,
        ``["block_02_*.csv"]``); or a callable ``(DownloadLink) -> bool``. Templated.
    :param format: ``"csv"`` (default), ``"json"`` or ``"ndjson"`` (one JSON object a line); the last two
        only for runs started with ``save_json=True``. Templated.
    :param overwrite: replace files that exist at the destination. When False (default) an existing
        target fails the task, naming it, before anything is downloaded. Templated (a template may
        render ``"True"`` or ``"False"``).
    :param allow_empty: succeed with no files when the run has none, or none match ``files``
        (default False: that fails, saying which).
    :param max_concurrency: result files downloaded at the same time (default 4).
    :param max_attempts: tries per file, the first included (default 4).
    :param asset_alias: the Asset alias that receives one event per landed file; None for none.
    :param download_options: advanced tuning: chunk and part sizes, timeouts, ``fsync`` (off by
        default, like ``curl -o``), ``sha256`` (off by default: every file is verified by its byte
        count; SHA-256 runs at about 2 GB/s per core, so it only slows sources faster than that); see
        :class:`~airflow_provider_sixtyfour.transfers.DownloadOptions`. ``max_concurrency`` and
        ``max_attempts`` given directly win over the ones in it.
    :param sixtyfour_conn_id: the Sixtyfour connection. Templated.
    """

    template_fields: Sequence[str] = (
        "job_id",
        "destination",
        "destination_conn_id",
        "files",
        "format",
        "overwrite",
        "sixtyfour_conn_id",
    )
    ui_color = "#e8f1ff"
    lineage_storage_conn_field = "destination_conn_id"

    def __init__(
        self,
        *,
        job_id: str,
        destination: Any,
        destination_conn_id: str | None = None,
        files: str | Sequence[str] | Callable[[DownloadLink], bool] = "all",
        format: str = "csv",
        overwrite: bool = False,
        allow_empty: bool = False,
        max_concurrency: int = 4,
        max_attempts: int = 4,
        asset_alias: str | None = DEFAULT_ASSET_ALIAS,
        download_options: DownloadOptions | None = None,
        sixtyfour_conn_id: str = connection_form.DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        _check_static_arguments(format, max_concurrency, max_attempts, asset_alias)
        super().__init__(outlets=outlets_with_alias(kwargs.pop("outlets", None), asset_alias), **kwargs)
        self.job_id = job_id
        self.destination = destination
        self.destination_conn_id = destination_conn_id
        self.files = files
        self.format = format
        self.overwrite = overwrite
        self.allow_empty = allow_empty
        self.max_concurrency = max_concurrency
        self.max_attempts = max_attempts
        self.asset_alias = asset_alias
        self.download_options = download_options
        self.sixtyfour_conn_id = sixtyfour_conn_id
        # Created in execute: operators are deep-copied at parse time, and an Event cannot be.
        self._abort: threading.Event | None = None

    def execute(self, context: Context) -> list[dict[str, Any]]:
        self._abort = threading.Event()
        self.lineage_facts.saw_run(job_id=str(self.job_id))
        with fail_without_retries(), sync_hook(self.sixtyfour_conn_id) as hook:
            hook.bound_waits(self._abort)  # on_kill ends the hook's retry and rate-limit waits too
            return land_and_announce(
                self,
                context,
                hook,
                self.job_id,
                self.destination,
                destination_conn_id=self.destination_conn_id or None,
                files=self.files,
                format=self.format,
                overwrite=validate.flag(self.overwrite, "overwrite"),
                allow_empty=self.allow_empty,
                options=self._options(),
                abort=self._abort,
                asset_alias=self.asset_alias,
            )

    def on_kill(self) -> None:
        """Stop every download; partial files are removed by the download threads."""
        if self._abort is not None:
            self._abort.set()

    def _options(self) -> DownloadOptions:
        from dataclasses import replace

        from airflow_provider_sixtyfour.transfers import DownloadOptions

        base = self.download_options or DownloadOptions()
        return replace(base, max_concurrency=self.max_concurrency, max_attempts=self.max_attempts)


def _check_static_arguments(format: object, max_concurrency: object, max_attempts: object, alias: object) -> None:
    """Fail at DAG parse time for arguments that are wrong whatever the templates render to."""
    if isinstance(format, str) and "{{" not in format:
        validate.result_format(format)
    for name, value in (("max_concurrency", max_concurrency), ("max_attempts", max_attempts)):
        validate.whole_number(value, name, 1)
    if alias is not None and (not isinstance(alias, str) or not alias.strip()):
        raise SixtyfourInputError(f"asset_alias must be a non-empty string or None, got {alias!r}")
