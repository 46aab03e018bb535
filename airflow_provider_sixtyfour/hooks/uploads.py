"""CSV uploads: opening what the caller gave, and a streamed ``multipart/form-data`` body for both transports.

The file is never read into memory whole: the body is the multipart preamble, the file in chunks,
then the closing boundary, with a ``Content-Length`` whenever the file's size is known.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

from airflow_provider_sixtyfour.protocol.endpoints import Upload
from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError

CHUNK_SIZE = 256 * 1024
DEFAULT_FILENAME = "upload.csv"


class UploadSource:
    """A CSV to upload, opened from a path or wrapped from a binary file object.

    :param content: the binary stream to send.
    :param filename: the file name sent in the multipart part.
    :param owned: True when this object opened the file and must close it.
    """

    def __init__(self, content: IO[bytes], filename: str, owned: bool) -> None:
        self.content = content
        self.filename = filename
        self.owned = owned

    def close(self) -> None:
        """Close the file if this object opened it (a caller's file object stays open)."""
        if self.owned:
            self.content.close()


def open_upload(path_or_file: Any) -> UploadSource:
    """Open a local path (``str``/``PathLike``) or check a binary file object; blocking (use a thread in async code).

    Raises :class:`SixtyfourInputError` naming the path when it cannot be read, and for text-mode or
    empty files, before anything is sent.
    """
    if isinstance(path_or_file, (str, os.PathLike)):
        path = Path(os.fspath(path_or_file))
        try:
            content: IO[bytes] = path.open("rb")
        except OSError as err:
            raise SixtyfourInputError(
                f"cannot read the CSV to upload at {str(path)!r}: {err.strerror or err}. "
                "Pass the path of a readable local CSV file, or an open binary file object"
            ) from None
        source = UploadSource(content, path.name or DEFAULT_FILENAME, owned=True)
    elif callable(getattr(path_or_file, "read", None)):
        probe = path_or_file.read(0)
        if not isinstance(probe, bytes):
            raise SixtyfourInputError(
                "upload_csv got a text-mode file object: open the CSV in binary mode (open(path, 'rb'))"
            )
        name = getattr(path_or_file, "name", None)
        filename = os.path.basename(name) if isinstance(name, str) and name else DEFAULT_FILENAME
        source = UploadSource(path_or_file, filename, owned=False)
    else:
        raise SixtyfourInputError(
            f"upload_csv takes a local path or a binary file object, got {type(path_or_file).__name__}"
        )
    if remaining_size(source.content) == 0:
        source.close()
        raise SixtyfourInputError(f"the CSV to upload ({source.filename!r}) is empty: there is nothing to enrich")
    return source


def remaining_size(content: IO[bytes]) -> int | None:
    """Bytes from the current position to the end, or None when the stream cannot tell."""
    try:
        if not content.seekable():
            return None
        start = content.tell()
        end = content.seek(0, os.SEEK_END)
        content.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return max(0, end - start)


def _quoted(filename: str) -> str:
    return filename.replace("\r", "").replace("\n", "").replace('"', "%22")


class MultipartBody:
    """One ``multipart/form-data`` body with a single file part, streamed from the upload's content.

    Build a new one for each attempt: it reads the stream from its current position (the retry loop
    rewinds it before a resend).
    """

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        boundary = uuid.uuid4().hex
        self.content_type = f"multipart/form-data; boundary={boundary}"
        self.preamble = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="{upload.field_name}"; filename="{_quoted(upload.filename)}"\r\n'
            f"Content-Type: {upload.content_type}\r\n\r\n"
        ).encode()
        self.epilogue = f"\r\n--{boundary}--\r\n".encode()
        size = remaining_size(upload.content)
        self.length = None if size is None else len(self.preamble) + size + len(self.epilogue)

    def headers(self) -> dict[str, str]:
        """The ``Content-Type`` (with the boundary) and, when known, ``Content-Length``."""
        headers = {"Content-Type": self.content_type}
        if self.length is not None:
            headers["Content-Length"] = str(self.length)
        return headers

    def __len__(self) -> int:
        # requests reads the body's length from here; 0 (unknown) makes it send chunked.
        return self.length or 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.preamble
        while chunk := self.upload.content.read(CHUNK_SIZE):
            yield chunk
        yield self.epilogue

    async def achunks(self) -> AsyncIterator[bytes]:
        """The body in chunks, each file read done in a thread so the event loop never blocks on disk."""
        yield self.preamble
        while chunk := await asyncio.to_thread(self.upload.content.read, CHUNK_SIZE):
            yield chunk
        yield self.epilogue
