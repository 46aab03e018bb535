"""Where result files land: a folder or key prefix in any object storage Airflow's ``ObjectStoragePath`` knows.

A target becomes visible only complete. Three ways, chosen by the store:

- local files (``file://``): write ``.<name>.partial-<id>`` beside the target (optionally fsync it),
  then rename (``os.replace``), or hard-link for an exclusive create when ``overwrite`` is False;
- object stores whose uploads appear only when completed (S3, GCS): write the final key through
  fsspec's buffered writer (a multipart or resumable upload) and abort the upload on failure;
- any other store: write a temporary sibling and ``mv`` it into place.

A failed write removes what it wrote, and never leaves a target or a temporary file behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.transfers.errors import (
    SixtyfourDestinationError,
    SixtyfourDestinationMissingError,
    SixtyfourTargetExistsError,
)

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

log = logging.getLogger(__name__)

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
#: Stores whose buffered writer publishes an object only when the upload completes.
COMMIT_ON_CLOSE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs"})
#: Stores where fsspec's ``"xb"`` mode is a conditional write (``If-None-Match: *``).
EXCLUSIVE_CREATE_PROTOCOLS = frozenset({"s3", "s3a"})

PARTIAL_MARKER = ".partial-"


def partial_name(filename: str) -> str:
    """The temporary sibling a file is written to before it is moved into place."""
    return f".{filename}{PARTIAL_MARKER}{uuid.uuid4().hex[:12]}"


class Sink(Protocol):
    """An open target being written; ``commit`` publishes it, ``abort`` removes every trace."""

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


@dataclass(frozen=True)
class Destination:
    """A folder (or key prefix) of an object store, resolved from a URI or an ``ObjectStoragePath``.

    :param fs: the fsspec filesystem Airflow attached for the protocol and connection.
    :param protocol: ``file``, ``s3``, ``gs``, ...
    :param root: the folder's path as the filesystem spells it (``bucket/prefix`` or ``/abs/dir``).
    :param conn_id: the Airflow connection the filesystem authenticates with, if any.
    """

    fs: AbstractFileSystem
    protocol: str
    root: str
    conn_id: str | None = None

    @property
    def is_local(self) -> bool:
        return self.protocol in LOCAL_PROTOCOLS

    @property
    def bucket(self) -> str:
        """The bucket (container) of an object store; empty for local folders."""
        return "" if self.is_local else self.root.split("/", 1)[0]

    def target(self, filename: str) -> str:
        """The filesystem path of ``filename`` inside this folder."""
        return posixpath.join(self.root, filename) if self.root else filename

    def uri(self, path: str | None = None) -> str:
        """A URI for ``path`` (default: the folder) without connection id: ``s3://b/k``, ``file:///d/f``."""
        path = self.root if path is None else path
        if self.is_local:
            return "file://" + path
        return f"{self.protocol}://{path}"

    def describe(self) -> str:
        """The folder's URI, with the connection it is reached through."""
        suffix = f" (connection {self.conn_id!r})" if self.conn_id else ""
        return self.uri() + suffix

    # ---------------------------------------------------------------------------------------------
    # Checks before any download
    # ---------------------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Make sure the folder can take files: create a local folder, check that a bucket exists."""
        if self.is_local:
            try:
                os.makedirs(self.root, exist_ok=True)
            except OSError as exc:
                raise SixtyfourDestinationError(
                    f"cannot create the destination folder {self.uri()}: {exc.strerror or exc}"
                ) from None
            return
        with contextlib.suppress(Exception):
            self.fs.invalidate_cache(self.root)
        if self.bucket and not self._bucket_exists():
            raise SixtyfourDestinationMissingError(
                f"the destination bucket {self.bucket!r} does not exist, or connection "
                f"{self.conn_id or '(default credentials)'!r} cannot see it ({self.protocol}): create the "
                "bucket or fix destination/destination_conn_id"
            )

    def _bucket_exists(self) -> bool:
        try:
            return bool(self.fs.exists(self.bucket))
        except Exception as exc:
            raise SixtyfourDestinationError(
                f"cannot reach the destination bucket {self.bucket!r} ({self.protocol}, connection "
                f"{self.conn_id!r}): {type(exc).__name__}: {exc}"
            ) from None

    def exists(self, path: str) -> bool:
        """Whether ``path`` (a target) exists now."""
        if self.is_local:
            return os.path.lexists(path)
        try:
            return bool(self.fs.exists(path))
        except Exception as exc:
            raise SixtyfourDestinationError(
                f"cannot check whether {self.uri(path)} exists: {type(exc).__name__}: {exc}"
            ) from None

    def remove(self, path: str) -> None:
        """Delete a target this task landed (used to roll back after another file failed)."""
        if self.is_local:
            os.unlink(path)
        else:
            self.fs.rm_file(path)

    # ---------------------------------------------------------------------------------------------
    # Writing
    # ---------------------------------------------------------------------------------------------

    def open_sink(
        self, filename: str, *, overwrite: bool, part_size: int, fsync: bool = False, exclusive: bool = True
    ) -> Sink:
        """Open a writer for ``filename`` that publishes the target only on :meth:`Sink.commit`.

        :param overwrite: replace an existing target; when False the commit fails if one appeared.
        :param part_size: bytes an object store's writer buffers before uploading a part.
        :param fsync: flush local files to disk before they are renamed into place (survives an OS
            crash, at disk speed).
        :param exclusive: use the store's exclusive create (hard link, ``If-None-Match``) when not
            overwriting; turn off for S3-compatible stores that reject conditional writes.
        """
        target = self.target(filename)
        if self.is_local:
            return LocalSink(target, overwrite=overwrite, fsync=fsync, exclusive=exclusive)
        if self.protocol in COMMIT_ON_CLOSE_PROTOCOLS:
            mode = "xb" if not overwrite and exclusive and self.protocol in EXCLUSIVE_CREATE_PROTOCOLS else "wb"
            return CommitOnCloseSink(self, target, mode=mode, part_size=part_size)
        return TempMoveSink(self, target, overwrite=overwrite, part_size=part_size)


def resolve_destination(destination: object, conn_id: str | None = None) -> Destination:
    """Turn ``destination`` (a URI, a local path or an ``ObjectStoragePath``) into a :class:`Destination`.

    ``conn_id`` (the operator's ``destination_conn_id``) wins over a connection id inside the URI.
    """
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    if isinstance(destination, ObjectStoragePath):
        path = destination
        if conn_id:
            path = ObjectStoragePath(str(path), conn_id=conn_id)
    elif isinstance(destination, (str, os.PathLike)):
        text = os.fspath(destination).strip()
        if not text:
            raise SixtyfourInputError(
                "destination is empty: pass a folder URI such as 's3://bucket/sixtyfour/{{ ds }}/' "
                "or 'file:///data/sixtyfour/', or an ObjectStoragePath"
            )
        if "://" not in text:
            text = os.path.abspath(os.path.expanduser(text))
        try:
            # Airflow 2 would let an explicit conn_id=None win over one written in the URI.
            path = ObjectStoragePath(text, conn_id=conn_id) if conn_id else ObjectStoragePath(text)
        except Exception as exc:
            raise SixtyfourInputError(f"destination {text!r} is not a usable storage URI: {exc}") from None
    else:
        raise SixtyfourInputError(
            f"destination must be a URI string or an ObjectStoragePath, got {type(destination).__name__}"
        )
    protocol = str(path.protocol or "file")
    path_conn_id = _conn_id_of(path)
    try:
        fs = path.fs
    except Exception as exc:
        raise SixtyfourDestinationError(
            f"no filesystem for {protocol}:// destinations ({type(exc).__name__}: {exc}); install the "
            f"Airflow provider that supports it (for s3:// apache-airflow-providers-amazon and s3fs)"
        ) from None
    root = str(path.path).rstrip("/")
    if protocol in LOCAL_PROTOCOLS:
        root = os.path.abspath(root or "/")
        protocol = "file"
    elif not root:
        raise SixtyfourInputError(f"destination {destination!s} names no bucket: use {protocol}://BUCKET/prefix/")
    return Destination(fs=fs, protocol=protocol, root=root, conn_id=path_conn_id)


def _conn_id_of(path: Any) -> str | None:
    conn_id = getattr(path, "conn_id", None)
    if conn_id is None:
        # Airflow 2.x keeps it among the storage options.
        with contextlib.suppress(Exception):
            conn_id = path.storage_options.get("conn_id")
    return str(conn_id) if conn_id else None


class LocalSink:
    """Writes a local temporary sibling, then renames (or hard-links) it onto the target."""

    def __init__(self, target: str, *, overwrite: bool, fsync: bool, exclusive: bool) -> None:
        self.target = target
        self.overwrite = overwrite
        self.fsync = fsync
        self.exclusive = exclusive
        folder, name = os.path.split(target)
        self.temp = os.path.join(folder, partial_name(name))
        try:
            self._fh = open(self.temp, "xb")  # noqa: SIM115 (closed by commit or abort)
        except OSError as exc:
            raise SixtyfourDestinationError(f"cannot write in {folder}: {exc.strerror or exc}") from None

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._fh.write(data)
        except OSError as exc:
            raise SixtyfourDestinationError(f"writing file://{self.target} failed: {exc.strerror or exc}") from None

    def commit(self) -> None:
        try:
            self._fh.flush()
            if self.fsync:
                os.fsync(self._fh.fileno())
            self._fh.close()
            if self.overwrite:
                os.replace(self.temp, self.target)
            else:
                self._publish_exclusive()
            if self.fsync:
                _fsync_dir(os.path.dirname(self.target))
        except SixtyfourTargetExistsError:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise SixtyfourDestinationError(
                f"moving the finished file to file://{self.target} failed: {exc.strerror or exc}"
            ) from None

    def _publish_exclusive(self) -> None:
        if self.exclusive:
            try:
                os.link(self.temp, self.target)
            except FileExistsError:
                raise SixtyfourTargetExistsError("file://" + self.target) from None
            except OSError:
                pass  # no hard links on this filesystem: fall back to check-then-rename
            else:
                os.unlink(self.temp)
                return
        if os.path.lexists(self.target):
            raise SixtyfourTargetExistsError("file://" + self.target)
        os.rename(self.temp, self.target)

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._fh.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


def _fsync_dir(folder: str) -> None:
    # Makes the rename itself durable; not every platform allows opening a directory.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _discard(handle: Any) -> None:
    """Abandon an fsspec buffered writer without publishing anything (aborts a multipart upload)."""
    discard = getattr(handle, "discard", None)
    with contextlib.suppress(Exception):
        if callable(discard):
            discard()
    # The writer must not try to finish the upload when it is garbage collected.
    with contextlib.suppress(Exception):
        handle.closed = True


class CommitOnCloseSink:
    """Writes the final key directly; the store publishes it only when the upload completes on close."""

    def __init__(self, destination: Destination, target: str, *, mode: str, part_size: int) -> None:
        self.destination = destination
        self.target = target
        self.mode = mode
        try:
            self._fh = destination.fs.open(target, mode, block_size=part_size)
        except FileExistsError:
            raise SixtyfourTargetExistsError(destination.uri(target)) from None
        except Exception as exc:
            raise _write_error(destination, target, exc) from None

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._fh.write(data)
        except Exception as exc:
            _discard(self._fh)
            raise _write_error(self.destination, self.target, exc) from None

    def commit(self) -> None:
        try:
            self._fh.close()
        except FileExistsError:
            _discard(self._fh)
            raise SixtyfourTargetExistsError(self.destination.uri(self.target)) from None
        except Exception as exc:
            _discard(self._fh)
            raise _write_error(self.destination, self.target, exc) from None

    def abort(self) -> None:
        _discard(self._fh)


class TempMoveSink:
    """For other stores: writes a temporary sibling, then moves it onto the target."""

    def __init__(self, destination: Destination, target: str, *, overwrite: bool, part_size: int) -> None:
        self.destination = destination
        self.target = target
        self.overwrite = overwrite
        folder, name = posixpath.split(target)
        self.temp = posixpath.join(folder, partial_name(name))
        try:
            self._fh = destination.fs.open(self.temp, "wb", block_size=part_size)
        except Exception as exc:
            raise _write_error(destination, target, exc) from None

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._fh.write(data)
        except Exception as exc:
            self.abort()
            raise _write_error(self.destination, self.target, exc) from None

    def commit(self) -> None:
        fs = self.destination.fs
        try:
            self._fh.close()
            if not self.overwrite and fs.exists(self.target):
                raise SixtyfourTargetExistsError(self.destination.uri(self.target))
            fs.mv(self.temp, self.target)
        except SixtyfourTargetExistsError:
            self.abort()
            raise
        except Exception as exc:
            self.abort()
            raise _write_error(self.destination, self.target, exc) from None

    def abort(self) -> None:
        _discard(self._fh)
        with contextlib.suppress(Exception):
            if self.destination.fs.exists(self.temp):
                self.destination.fs.rm_file(self.temp)


def _write_error(destination: Destination, target: str, exc: BaseException) -> SixtyfourDestinationError:
    if isinstance(exc, FileNotFoundError) and destination.bucket:
        return SixtyfourDestinationError(
            f"cannot write {destination.uri(target)}: the bucket {destination.bucket!r} does not exist "
            f"or connection {destination.conn_id!r} cannot see it"
        )
    if isinstance(exc, PermissionError):
        return SixtyfourDestinationError(
            f"connection {destination.conn_id!r} may not write {destination.uri(target)}: {exc}"
        )
    return SixtyfourDestinationError(f"writing {destination.uri(target)} failed: {type(exc).__name__}: {exc}")
