"""The writers of a destination: each publishes its target only when committed, and leaves no trace when aborted.

See :mod:`~airflow_provider_sixtyfour.transfers.destination` for which store gets which writer.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_sixtyfour.transfers.errors import SixtyfourDestinationError, SixtyfourTargetExistsError
from airflow_provider_sixtyfour.transfers.naming import partial_name

if TYPE_CHECKING:
    from airflow_provider_sixtyfour.transfers.destination import Destination


class Sink(Protocol):
    """An open target being written; ``commit`` publishes it, ``abort`` removes every trace."""

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> None: ...

    def abort(self) -> None: ...


class LocalSink:
    """Writes a local temporary sibling, then renames (or hard-links) it onto the target."""

    def __init__(self, target: str, *, overwrite: bool, fsync: bool, exclusive: bool) -> None:
        self.target = target
        self.overwrite = overwrite
        self.fsync = fsync
        self.exclusive = exclusive
        folder = os.path.dirname(target)
        self.temp = os.path.join(folder, partial_name())
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


class _StoreSink:
    """What both object-store sinks share: one open fsspec writer, which a failed write abandons."""

    destination: Destination
    target: str
    _fh: Any

    def write(self, data: bytes | memoryview) -> None:
        try:
            self._fh.write(data)
        except Exception as exc:
            self.abort()
            raise _write_error(self.destination, self.target, exc) from None

    def abort(self) -> None:
        _discard(self._fh)


class CommitOnCloseSink(_StoreSink):
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

    def commit(self) -> None:
        try:
            self._fh.close()
        except FileExistsError:
            self.abort()
            raise SixtyfourTargetExistsError(self.destination.uri(self.target)) from None
        except Exception as exc:
            self.abort()
            raise _write_error(self.destination, self.target, exc) from None


class TempMoveSink(_StoreSink):
    """For other stores: writes a temporary sibling, then moves it onto the target."""

    def __init__(self, destination: Destination, target: str, *, overwrite: bool, part_size: int) -> None:
        self.destination = destination
        self.target = target
        self.overwrite = overwrite
        self.temp = posixpath.join(posixpath.dirname(target), partial_name())
        try:
            self._fh = destination.fs.open(self.temp, "wb", block_size=part_size)
        except Exception as exc:
            raise _write_error(destination, target, exc) from None

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
        super().abort()
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
