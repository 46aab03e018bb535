"""Errors raised while landing result files; every message names the file, never a signed URL."""

from __future__ import annotations

from airflow_provider_sixtyfour.protocol.errors import SixtyfourError, SixtyfourInputError
from airflow_provider_sixtyfour.protocol.statuses import RunStatus


class SixtyfourResultsNotReadyError(SixtyfourError):
    """The run has not completed (still running, failed or cancelled), so it has no results to land.

    :param job_id: the run's id.
    :param status: the run's status as the API reported it.
    """

    def __init__(self, job_id: str, status: str, detail: str) -> None:
        self.job_id = job_id
        self.status = status
        #: A failed or cancelled run never gets results; one still running may by a later try.
        self.final = RunStatus.parse(status) in (RunStatus.FAILED, RunStatus.CANCELLED)
        super().__init__(detail)


class SixtyfourNoResultFilesError(SixtyfourError):
    """The run completed, but it has no result files (or none matched the ``files`` selection)."""

    final = True


class SixtyfourDestinationError(SixtyfourError):
    """The destination cannot take the files: a target exists, the bucket is missing, a write failed."""


class SixtyfourDestinationMissingError(SixtyfourDestinationError):
    """The destination bucket does not exist, or the connection cannot see it."""

    final = True


class SixtyfourTargetExistsError(SixtyfourDestinationError, FileExistsError):
    """A target file already exists and ``overwrite`` is False.

    :param target: the target's URI.
    """

    final = True

    def __init__(self, target: str) -> None:
        self.target = target
        super().__init__(f"{target} already exists; pass overwrite=True to replace it, or choose another destination")


class SixtyfourDownloadError(SixtyfourError):
    """A result file could not be downloaded completely after every allowed attempt.

    :param filename: the result file's name.
    :param reason: what went wrong on the last attempt (signed URLs redacted).
    :param attempts: how many attempts were made.
    """

    def __init__(self, filename: str, reason: str, attempts: int) -> None:
        self.filename = filename
        self.reason = reason
        self.attempts = attempts
        plural = "attempt" if attempts == 1 else "attempts"
        super().__init__(f"result file {filename!r} could not be downloaded ({attempts} {plural}): {reason}")


class SixtyfourResultNameError(SixtyfourError):
    """A selected result file cannot land under its name: the API's filename cannot be a file name (a NUL,
    a control character, too long for the destination), or it cannot be told apart from another selected
    file. Raised before anything is downloaded.

    :param filename: the result file's name as the API gave it.
    :param reason: what is wrong with it.
    """

    final = True

    def __init__(self, filename: str, reason: str) -> None:
        self.filename = filename
        self.reason = reason
        super().__init__(f"result file {filename!r} cannot be landed: {reason}")


__all__ = [
    "SixtyfourDestinationError",
    "SixtyfourDestinationMissingError",
    "SixtyfourDownloadError",
    "SixtyfourInputError",
    "SixtyfourNoResultFilesError",
    "SixtyfourResultNameError",
    "SixtyfourResultsNotReadyError",
    "SixtyfourTargetExistsError",
]
