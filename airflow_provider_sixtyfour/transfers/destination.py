"""Where result files land: a folder or key prefix in any object storage Airflow's ``ObjectStoragePath`` knows.

A target becomes visible only complete. Three ways, chosen by the store:

- local files (``file://``): write ``.partial-<id>`` beside the target (optionally fsync it),
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
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.transfers.errors import (
    SixtyfourDestinationError,
    SixtyfourDestinationMissingError,
)

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from airflow_provider_sixtyfour.transfers.sinks import Sink

log = logging.getLogger(__name__)

LOCAL_PROTOCOLS = frozenset({"", "file", "local"})
#: Stores whose buffered writer publishes an object only when the upload completes.
COMMIT_ON_CLOSE_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs"})
#: Stores where fsspec's ``"xb"`` mode is a conditional write (``If-None-Match: *``).
EXCLUSIVE_CREATE_PROTOCOLS = frozenset({"s3", "s3a"})

#: The longest file name a local filesystem takes (UTF-8 bytes), and the longest key of an object store.
LOCAL_NAME_MAX_BYTES = 255
OBJECT_KEY_MAX_BYTES = 1024

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Destination(ABC):
    """A folder (or key prefix) of a store, resolved from a URI or an ``ObjectStoragePath``.

    :func:`resolve_destination` returns a :class:`LocalDestination` or an :class:`ObjectStoreDestination`;
    landing uses only the methods below, whichever it gets.

    :param fs: the fsspec filesystem Airflow attached for the protocol and connection.
    :param protocol: ``file``, ``s3``, ``gs``, ...
    :param root: the folder's path as the filesystem spells it (``bucket/prefix`` or ``/abs/dir``).
    :param conn_id: the Airflow connection the filesystem authenticates with, if any.
    """

    fs: AbstractFileSystem
    protocol: str
    root: str
    conn_id: str | None = None

    #: Whether the folder is on the worker's own filesystem.
    is_local: ClassVar[bool] = False

    @property
    @abstractmethod
    def bucket(self) -> str:
        """The bucket (container) of an object store; empty for local folders."""

    @abstractmethod
    def max_name_bytes(self) -> int:
        """The longest file name (UTF-8 bytes) a target in this folder may have."""

    def target(self, filename: str) -> str:
        """The filesystem path of ``filename`` inside this folder."""
        return posixpath.join(self.root, filename) if self.root else filename

    @abstractmethod
    def uri(self, path: str | None = None) -> str:
        """A URI for ``path`` (default: the folder) without connection id: ``s3://b/k``, ``file:///d/f``."""

    def describe(self) -> str:
        """The folder's URI, with the connection it is reached through."""
        suffix = f" (connection {self.conn_id!r})" if self.conn_id else ""
        return self.uri() + suffix

    @abstractmethod
    def prepare(self) -> None:
        """Make sure the folder can take files, before any download."""

    @abstractmethod
    def exists(self, path: str) -> bool:
        """Whether ``path`` (a target) exists now."""

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete a target this task landed (used to roll back after another file failed)."""

    @abstractmethod
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


@dataclass(frozen=True)
class LocalDestination(Destination):
    """A folder on the worker's filesystem (``file://`` or a plain path), written with ``os`` calls."""

    is_local: ClassVar[bool] = True

    @property
    def bucket(self) -> str:
        """Always empty: a local folder has no bucket."""
        return ""

    def max_name_bytes(self) -> int:
        """The longest file name a local filesystem takes."""
        return LOCAL_NAME_MAX_BYTES

    def uri(self, path: str | None = None) -> str:
        """``file://`` and the absolute path (default: the folder)."""
        return "file://" + (self.root if path is None else path)

    def prepare(self) -> None:
        """Create the folder (and its parents) if it is missing."""
        try:
            os.makedirs(self.root, exist_ok=True)
        except OSError as exc:
            raise SixtyfourDestinationError(
                f"cannot create the destination folder {self.uri()}: {exc.strerror or exc}"
            ) from None

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists now (a dangling symlink counts)."""
        return os.path.lexists(path)

    def remove(self, path: str) -> None:
        """Delete the file ``path``."""
        os.unlink(path)

    def open_sink(
        self, filename: str, *, overwrite: bool, part_size: int, fsync: bool = False, exclusive: bool = True
    ) -> Sink:
        """A ``.partial-<id>`` file beside the target, renamed (or hard-linked) onto it on commit."""
        from airflow_provider_sixtyfour.transfers.sinks import LocalSink

        return LocalSink(self.target(filename), overwrite=overwrite, fsync=fsync, exclusive=exclusive)


@dataclass(frozen=True)
class ObjectStoreDestination(Destination):
    """A key prefix in an object store (S3, GCS, any other fsspec store), written through ``fs``."""

    @property
    def bucket(self) -> str:
        """The first segment of ``root``."""
        return self.root.split("/", 1)[0]

    def max_name_bytes(self) -> int:
        """What the store's key length limit leaves for a name after the prefix."""
        key = self.root.split("/", 1)[1] if "/" in self.root else ""
        return max(0, OBJECT_KEY_MAX_BYTES - len(key.encode("utf-8")) - 1)

    def uri(self, path: str | None = None) -> str:
        """``<protocol>://`` and the path (default: the folder)."""
        return f"{self.protocol}://{self.root if path is None else path}"

    def prepare(self) -> None:
        """Check that the bucket exists (and that the connection can see it)."""
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
        """Whether the key ``path`` exists now."""
        try:
            return bool(self.fs.exists(path))
        except Exception as exc:
            raise SixtyfourDestinationError(
                f"cannot check whether {self.uri(path)} exists: {type(exc).__name__}: {exc}"
            ) from None

    def remove(self, path: str) -> None:
        """Delete the key ``path``."""
        self.fs.rm_file(path)

    def open_sink(
        self, filename: str, *, overwrite: bool, part_size: int, fsync: bool = False, exclusive: bool = True
    ) -> Sink:
        """The final key through a commit-on-close upload (S3, GCS), else a temporary key moved into place."""
        from airflow_provider_sixtyfour.transfers.sinks import CommitOnCloseSink, TempMoveSink

        target = self.target(filename)
        if self.protocol in COMMIT_ON_CLOSE_PROTOCOLS:
            mode = "xb" if not overwrite and exclusive and self.protocol in EXCLUSIVE_CREATE_PROTOCOLS else "wb"
            return CommitOnCloseSink(self, target, mode=mode, part_size=part_size)
        return TempMoveSink(self, target, overwrite=overwrite, part_size=part_size)


def resolve_destination(destination: object, conn_id: str | None = None) -> Destination:
    """Turn ``destination`` (a URI, a local path or an ``ObjectStoragePath``) into a :class:`Destination`:
    a :class:`LocalDestination` for ``file://`` and plain paths, else an :class:`ObjectStoreDestination`.

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
        else:
            check_destination_uri(text)
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
        return LocalDestination(fs=fs, protocol="file", root=os.path.abspath(root or "/"), conn_id=path_conn_id)
    if not root or ":" in root.split("/", 1)[0]:
        # ObjectStoragePath("s3://") reads "s3:" as the bucket; no bucket name holds a colon.
        raise SixtyfourInputError(f"destination {destination!s} names no bucket: use {protocol}://BUCKET/prefix/")
    return ObjectStoreDestination(fs=fs, protocol=protocol, root=root, conn_id=path_conn_id)


def check_destination_uri(text: str) -> None:
    """Refuse a URI that names no folder: a bare ``file://`` (it would mean the worker's working
    directory) or an object store without a bucket (``s3://`` would name a bucket ``s3:``)."""
    match = _SCHEME.match(text.strip())
    if match is None:
        return
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme in LOCAL_PROTOCOLS:
        if not rest.strip():
            raise SixtyfourInputError(
                f"destination {text!r} names no folder (a bare file:// would be the worker's working directory): "
                "use an absolute path such as 'file:///data/sixtyfour/'"
            )
        return
    bucket = rest.split("/", 1)[0].split("@")[-1].strip()
    if not bucket:
        raise SixtyfourInputError(f"destination {text!r} names no bucket: use {scheme}://BUCKET/prefix/")


def _conn_id_of(path: Any) -> str | None:
    conn_id = getattr(path, "conn_id", None)
    if conn_id is None:
        # Airflow 2.x keeps it among the storage options.
        with contextlib.suppress(Exception):
            conn_id = path.storage_options.get("conn_id")
    return str(conn_id) if conn_id else None
