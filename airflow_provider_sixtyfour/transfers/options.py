"""How result files are fetched and written: :class:`DownloadOptions`, checked before any request."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.validate import is_real, seconds, whole_number
from airflow_provider_sixtyfour.transfers.streaming import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_EXPANSION, MiB

#: The longest timeout, wait or window an option may name: a day (beyond it is a typo, not a setting).
MAX_SECONDS = 86_400.0


@dataclass(frozen=True)
class DownloadOptions:
    """How result files are fetched and written.

    :param max_concurrency: files downloaded at the same time (one thread and connection each).
    :param max_attempts: tries per file, the first included; an expired, null, truncated, too slow or
        failed download is tried again with a fresh link until this many tries were made.
    :param chunk_size: the most bytes read from the network and written at a time (each read takes
        what has arrived, up to this); memory use per file is a few chunks plus ``part_size`` for
        object stores.
    :param part_size: bytes an object store's writer buffers per uploaded part (S3: at least 5 MiB).
    :param connect_timeout: seconds to wait for the storage to accept the connection.
    :param read_timeout: seconds to wait for the next bytes of a body before giving up on a try.
    :param min_throughput: the throughput floor in bytes a second (default 64 KiB/s): a body that
        arrives slower than this over ``throughput_window`` seconds fails the try, which is retried
        (a storage or proxy dripping a few bytes at a time never holds a task forever). 0 turns it off.
    :param throughput_window: the seconds the throughput floor is measured over (default 30).
    :param max_expansion: a compressed body (``Content-Encoding`` gzip or deflate) whose decoded size
        the API does not list (no ``file_size``) may decode to at most this many times the bytes received,
        beyond its first 16 MiB (default 200; real CSV and JSON compress 5 to 20 times, a gzip bomb
        1,000 times). Past it the file fails at once, nothing is left behind and disk space is spared.
    :param retry_wait: seconds before the second try of a file; doubles with each further try.
    :param fsync: flush local files to disk before they are renamed into place. Off by default, like
        ``curl -o``: the rename already keeps a partial file from ever showing, whatever happens to
        the task; fsync adds durability across an operating-system crash, at the disk's write speed.
    :param sha256: also compute each file's SHA-256 while streaming (on a helper thread) and put it in
        the file's record and Asset event. Off by default: every file is already verified by its byte
        count against ``Content-Length`` and ``file_size``, and SHA-256 (about 2 GB/s on a current
        core) would bound a fast local source below the speed of ``curl``. Real downloads over the
        internet are far slower than that, so turning it on there costs next to nothing.
    :param exclusive_create: with ``overwrite=False``, publish with the store's exclusive create
        (a hard link locally, ``If-None-Match: *`` on S3), so a target that appears meanwhile is never
        replaced. Turn off for S3-compatible stores that reject conditional writes.
    """

    max_concurrency: int = 4
    max_attempts: int = 4
    chunk_size: int = DEFAULT_CHUNK_SIZE
    part_size: int = 8 * MiB
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    min_throughput: float = 64 * 1024
    throughput_window: float = 30.0
    max_expansion: float = DEFAULT_MAX_EXPANSION
    retry_wait: float = 1.0
    fsync: bool = False
    sha256: bool = False
    exclusive_create: bool = True

    def validate(self) -> DownloadOptions:
        """Raise :class:`SixtyfourInputError` for values that cannot work (NaN and infinity included)."""
        whole_number(self.max_concurrency, "max_concurrency", 1, 256)
        whole_number(self.max_attempts, "max_attempts", 1, 100)
        whole_number(
            self.chunk_size, "chunk_size", 64 * 1024, 64 * MiB, "at least 65536 bytes (64 KiB) and at most 64 MiB"
        )
        whole_number(
            self.part_size, "part_size", 5 * MiB, 5 * 1024 * MiB, "at least 5 MiB (S3's minimum part) and at most 5 GiB"
        )
        seconds(self.connect_timeout, "connect_timeout", zero=False, most=MAX_SECONDS, most_words=" (a day)")
        seconds(self.read_timeout, "read_timeout", zero=False, most=MAX_SECONDS, most_words=" (a day)")
        seconds(self.throughput_window, "throughput_window", zero=False, most=MAX_SECONDS, most_words=" (a day)")
        seconds(self.retry_wait, "retry_wait", zero=True, most=MAX_SECONDS, most_words=" (a day)")
        if not is_real(self.min_throughput) or not 0 <= self.min_throughput < 1e12:
            raise SixtyfourInputError(
                f"min_throughput must be a finite number of bytes a second >= 0 (0 turns the floor off), "
                f"got {self.min_throughput!r}"
            )
        if not is_real(self.max_expansion) or not 1 <= self.max_expansion <= 1e6:
            raise SixtyfourInputError(
                f"max_expansion must be a finite number >= 1 and <= 1000000 (decoded bytes per byte received), "
                f"got {self.max_expansion!r}"
            )
        for flag in ("fsync", "sha256", "exclusive_create"):
            if not isinstance(getattr(self, flag), bool):
                raise SixtyfourInputError(f"{flag} must be True or False, got {getattr(self, flag)!r}")
        return self
