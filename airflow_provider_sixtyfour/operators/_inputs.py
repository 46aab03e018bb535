"""What a run is started with: the checks of its input that need storage, and the start request.

The checks of plain values live in :mod:`~airflow_provider_sixtyfour.protocol.validate`; here are those
that look at a destination or open the input CSV. Every check raises :class:`SixtyfourInputError` with
a message that names the parameter and says how to fix it. Nothing here starts a run:
:class:`RunRequest` is the start function the run claimer calls.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_sixtyfour.protocol import validate
from airflow_provider_sixtyfour.protocol.endpoints import RESOURCE_HANDLE_SPEC_KEY
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError, SixtyfourNotFoundError
from airflow_provider_sixtyfour.protocol.validate import Payload

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.hooks.sixtyfour import SixtyfourHook
    from airflow_provider_sixtyfour.protocol.models import RunStarted, Workflow


def check_download_to(download_to: object, download_format: object, download_files: object, save_json: bool) -> None:
    """The run operator's ``download_to`` settings, checked before the run is paid for."""
    from airflow_provider_sixtyfour.transfers.destination import check_destination_uri
    from airflow_provider_sixtyfour.transfers.selection import validate_selection

    validate.download_format(download_format, save_json)
    validate_selection(download_files)
    if isinstance(download_to, (str, os.PathLike)):
        if not os.fspath(download_to).strip():
            raise SixtyfourInputError("download_to is empty: pass a folder URI such as 's3://bucket/sixtyfour/'")
        check_destination_uri(os.fspath(download_to))


def csv_path(input_csv: object, conn_id: str | None) -> Any:
    """``input_csv`` as an ``ObjectStoragePath`` (a URI or local path becomes one, with ``conn_id``)."""
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(input_csv, ObjectStoragePath):
        if conn_id is None:
            return input_csv
        return ObjectStoragePath(str(input_csv), conn_id=conn_id)
    if isinstance(input_csv, str) and input_csv.strip():
        return ObjectStoragePath(input_csv.strip(), conn_id=conn_id)
    raise SixtyfourInputError(
        f"input_csv must be an ObjectStoragePath or a URI such as 's3://bucket/leads.csv', got {input_csv!r}"
    )


def check_csv_readable(path: Any, conn_id: str | None) -> None:
    """Raise unless ``path`` names a non-empty file that can be opened with ``conn_id``."""
    if conn_id is not None:
        from airflow.providers.common.compat.sdk import AirflowNotFoundException, BaseHook

        try:
            BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            raise SixtyfourInputError(
                f"input_csv_conn_id {conn_id!r} is not an Airflow connection: create it, or pass the id of "
                "the connection that can read the CSV"
            ) from None
    try:
        exists = path.exists() and path.is_file()
        if exists:
            with path.open("rb") as handle:
                first = handle.read(1)
    except SixtyfourInputError:
        raise
    except Exception as err:
        raise SixtyfourInputError(
            f"input_csv {str(path)!r} cannot be read with connection {conn_id!r}: {type(err).__name__}: {err}"
        ) from None
    if not exists:
        raise SixtyfourInputError(
            f"input_csv {str(path)!r} does not exist (or is not a file); check the path and input_csv_conn_id"
        )
    if not first:
        raise SixtyfourInputError(f"input_csv {str(path)!r} is empty: there are no rows to enrich")


@dataclass
class RunRequest:
    """A checked run request, and the start function that sends it with a given idempotency key.

    The CSV (if any) is uploaded once; replays of the start reuse its handle (``input_handle``), which
    the run claimer records and restores across tries
    (see :class:`~airflow_provider_sixtyfour.idempotency.StartRequest`).

    :param hook: the sync hook to send with.
    :param workflow_id: the workflow to run.
    :param webhook_payload: rows for a ``webhook`` workflow.
    :param specs_override: block settings to override.
    :param csv: the CSV to upload for a ``read_csv`` workflow (an ``ObjectStoragePath``).
    :param save_json: also keep JSON results.
    """

    hook: SixtyfourHook
    workflow_id: str
    webhook_payload: Payload | None = None
    specs_override: dict[str, Any] | None = None
    csv: Any = None
    save_json: bool = False
    input_handle: str | None = field(default=None, init=False, repr=False)

    def check_against(self, workflow: Workflow) -> None:
        """Raise when the input does not fit how ``workflow`` starts (its first block)."""
        has_csv = self.csv is not None or bool((self.specs_override or {}).get(RESOURCE_HANDLE_SPEC_KEY))
        first = workflow.first_block_name
        if first is not None and self.webhook_payload is not None and not workflow.takes_webhook_payload:
            raise SixtyfourInputError(
                f"webhook_payload was given, but workflow {self.workflow_id!r} starts with a {first!r} block, "
                "not a webhook: remove webhook_payload"
                + (" and pass input_csv instead" if workflow.takes_csv_upload else "")
            )
        if first is not None and self.csv is not None and not workflow.takes_csv_upload:
            raise SixtyfourInputError(
                f"input_csv was given, but workflow {self.workflow_id!r} starts with a {first!r} block, not "
                "read_csv: remove input_csv"
                + (" and pass webhook_payload instead" if workflow.takes_webhook_payload else "")
            )
        if workflow.takes_webhook_payload and self.webhook_payload is None:
            raise SixtyfourInputError(
                f"workflow {self.workflow_id!r} starts with a webhook block: pass its rows as webhook_payload "
                "(a dict or a list of dicts, or an upstream task's output)"
            )
        if workflow.takes_csv_upload and not has_csv:
            raise SixtyfourInputError(
                f"workflow {self.workflow_id!r} starts with a read_csv block: pass the CSV as input_csv "
                "(an ObjectStoragePath or a URI such as 's3://bucket/leads.csv', with input_csv_conn_id)"
            )

    def workflow(self) -> Workflow:
        """The workflow the run is for; one the API does not know is an input error, which says why."""
        try:
            return self.hook.get_workflow(self.workflow_id)
        except SixtyfourNotFoundError as err:
            raise SixtyfourInputError(
                f"workflow_id {self.workflow_id!r} was not found: check the id in the Sixtyfour app, and that the "
                f"connection's API key belongs to the organisation that owns it ({err})"
            ) from None

    def prepare_input(self) -> None:
        """Upload the CSV, unless there is none or it is uploaded already (``input_handle`` is set)."""
        if self.csv is not None and self.input_handle is None:
            with self.csv.open("rb") as handle:
                self.input_handle = self.hook.upload_csv(handle)

    def start(self, idempotency_key: str) -> RunStarted:
        """Send the start request with ``idempotency_key`` (uploading the CSV first, once)."""
        specs = dict(self.specs_override or {})
        if self.csv is not None:
            self.prepare_input()
            specs[RESOURCE_HANDLE_SPEC_KEY] = self.input_handle
        return self.hook.run_workflow(
            self.workflow_id,
            self.webhook_payload,
            specs or None,
            save_json=self.save_json,
            idempotency_key=idempotency_key,
        )
