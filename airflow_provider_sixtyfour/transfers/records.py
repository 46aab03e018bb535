"""What landed: one JSON-safe record per result file written to the destination."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class LandedFile:
    """One result file, complete and verified at its destination.

    :param uri: where the file landed, without any connection id (``s3://bucket/prefix/file.csv``,
        ``file:///data/file.csv``); also the URI of the Airflow Asset event emitted for it.
    :param filename: the result file's name as the API gave it.
    :param bytes: the file's size in bytes, checked against ``Content-Length`` (and ``file_size``).
    :param sha256: hex SHA-256 of the bytes written, computed while streaming (None unless turned on
        with ``DownloadOptions(sha256=True)``).
    :param row_count: rows in the file, as the API reported them.
    :param block_number: the workflow block that produced the file (the highest is the final output).
    :param format: ``csv`` or ``json``.
    :param job_id: the run the file belongs to.
    :param attempts: download attempts it took (1 when nothing had to be retried).
    """

    uri: str
    filename: str
    bytes: int
    sha256: str | None
    row_count: int
    block_number: int | None
    format: str
    job_id: str
    attempts: int = 1

    def to_dict(self) -> dict[str, Any]:
        """A plain-JSON copy for XCom and Asset event extras."""
        return asdict(self)
