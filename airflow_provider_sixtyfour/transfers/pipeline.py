"""The copy loop's helpers: reading a response body a system call at a time (undoing gzip in bounded
pieces), judging its speed, and SHA-256 on another thread.

Each chunk is what one ``recv`` returned (up to the chunk size), written out at once, the way
``curl -o`` copies. Filling a fixed buffer completely before writing it (several ``recv`` calls per
chunk) measured slower and far less steady in a fresh task process here: 63-93% of curl with rounds
as low as 1.4 GB/s, against 130-160% in every round for one read per chunk (``bench/download.py``).
A chunk is an immutable ``bytes`` object, so the optional SHA-256 can run on a helper thread,
overlapping the copy, without a buffer pool; a bounded queue keeps memory per file at a few chunks.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

#: The content encodings :class:`BodyReader` undoes itself (in bounded pieces); any other is refused.
DECODED_ENCODINGS = frozenset({"gzip", "x-gzip", "deflate"})


class CorruptBody(Exception):
    """A compressed body that does not decode, or ends before its end marker."""


class _Inflater:
    """Undoes ``gzip`` or ``deflate`` at most ``size`` output bytes at a time.

    A few KiB of gzip can expand a thousandfold, so output is taken in bounded pieces (``max_length``)
    and the input that is not decoded yet is kept, instead of expanding a whole network read at once.
    """

    def __init__(self, encoding: str) -> None:
        self._gzip = encoding != "deflate"
        self._wbits = 16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS
        self._obj = zlib.decompressobj(self._wbits)
        self._tail = b""
        self._fed = False
        self._decoded = False

    @property
    def pending(self) -> bool:
        """Input is waiting to be decoded (take it before reading more from the network)."""
        return bool(self._tail)

    def take(self, data: bytes, size: int) -> bytes:
        """Decode ``data`` (after what is pending) and return at most ``size`` bytes of output."""
        data = self._tail + data if self._tail else data
        self._tail = b""
        if not data:
            return b""
        self._fed = True
        try:
            out = self._obj.decompress(data, size)
        except zlib.error as exc:
            if self._gzip or self._decoded or self._wbits < 0:
                raise CorruptBody(f"the {'gzip' if self._gzip else 'deflate'} body does not decode ({exc})") from None
            # Some servers send "deflate" without its zlib header: raw deflate.
            self._wbits = -zlib.MAX_WBITS
            self._obj = zlib.decompressobj(self._wbits)
            return self.take(data, size)
        self._decoded = True
        if self._obj.eof:
            rest = self._obj.unused_data
            if rest and not self._gzip:
                raise CorruptBody("the deflate body has bytes after its end marker")
            if rest:
                # A gzip body may hold several members, one after the other.
                self._obj = zlib.decompressobj(self._wbits)
                self._tail = rest
        else:
            self._tail = self._obj.unconsumed_tail
        return out

    def finish(self) -> None:
        """The network body ended: raise :class:`CorruptBody` unless the compressed stream ended too."""
        if self._fed and not self._obj.eof:
            raise CorruptBody("the compressed body ended before its end marker")


class BodyReader:
    """Reads a response body in chunks of at most one system call each.

    It reads from the underlying ``http.client`` response with ``read1`` (which also handles chunked
    transfer encoding and the body's length); a ``gzip`` or ``deflate`` content encoding is undone
    here, at most ``size`` bytes at a time, so that a small compressed body cannot expand into memory.

    :param raw: the ``urllib3`` response (``requests.Response.raw``).
    :param encoding: the body's ``Content-Encoding`` (lower case): ``identity`` or one of
        :data:`DECODED_ENCODINGS`.
    """

    def __init__(self, raw: Any, encoding: str = "identity") -> None:
        self._raw = raw
        fp = getattr(raw, "_fp", None)  # urllib3's http.client response, in urllib3 1.x and 2.x
        self._fp = fp if callable(getattr(fp, "read1", None)) else None
        self._inflater = _Inflater(encoding) if encoding in DECODED_ENCODINGS else None
        #: Bytes of the body as sent (before any content decoding).
        self.wire_bytes = 0

    def _read_wire(self, size: int) -> bytes:
        if self._fp is None:
            data = self._raw.read(size, decode_content=False) or b""
            self.wire_bytes = int(self._raw.tell())
            return bytes(data)
        data = self._fp.read1(size)
        self.wire_bytes += len(data)
        return bytes(data)

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the (decoded) body; ``b""`` at its end.

        :raises CorruptBody: a compressed body does not decode or was cut short.
        """
        inflater = self._inflater
        if inflater is None:
            return self._read_wire(size)
        while True:
            wire = b"" if inflater.pending else self._read_wire(size)
            if not wire and not inflater.pending:
                inflater.finish()
                return b""
            out = inflater.take(wire, size)
            if out:
                return out


class SpeedFloor:
    """Decides when a transfer is too slow: fewer than ``min_rate`` bytes a second over ``window`` seconds.

    Pure: it is told the byte count and reads the clock; the caller stops the transfer. Each full
    window is judged on its own, so a transfer that was fast and then slows to a drip fails within
    two windows. Time the caller spent on its own side (writing to a slow destination, waiting on the
    hasher) is handed back with :meth:`not_waiting`: the floor judges the server, not our storage.

    :param min_rate: bytes a second; 0 turns the floor off.
    :param window: seconds a rate is measured over before it is judged.
    :param clock: monotonic seconds (replaceable in tests).
    """

    def __init__(self, min_rate: float, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.min_rate = min_rate
        self.window = window
        self._clock = clock
        self._start = clock()
        self._start_bytes = 0

    def not_waiting(self, seconds: float) -> None:
        """Leave ``seconds`` the caller spent on its own side (not waiting for the body) out of the window."""
        self._start += max(0.0, seconds)

    def check(self, done: int) -> str | None:
        """Given the bytes received so far, what is wrong (a message), or None while the speed is fine."""
        if self.min_rate <= 0:
            return None
        now = self._clock()
        elapsed = now - self._start
        if elapsed < self.window:
            return None
        got = done - self._start_bytes
        if got < self.min_rate * elapsed:
            return (
                f"too slow: {got} bytes in the last {elapsed:.1f} s ({got / elapsed:.0f} bytes/s), below the floor "
                f"of {self.min_rate:.0f} bytes/s over {self.window:g} s (DownloadOptions min_throughput and "
                "throughput_window)"
            )
        self._start, self._start_bytes = now, done
        return None


class HashingPipeline:
    """SHA-256 of a stream of chunks, computed on a helper thread, holding at most ``depth`` chunks.

    Use: ``pipe.submit(chunk)`` for every chunk, in order; ``pipe.finish()`` returns the hex digest.
    ``close()`` (always, e.g. in ``finally``) stops the thread. With ``threaded=False`` (small
    files) hashing happens inline.

    :param depth: chunks waiting to be hashed before :meth:`submit` waits: how far the copy may
        run ahead of hashing, and so the pipeline's memory.
    :param threaded: hash on a helper thread (pointless for bodies of one chunk or less).
    :param enabled: compute the digest at all; when False, :meth:`submit` does nothing and
        :meth:`finish` returns None.
    """

    def __init__(self, depth: int = 4, threaded: bool = True, enabled: bool = True) -> None:
        self._sha = hashlib.sha256() if enabled else None
        self._work: queue.Queue[bytes | None] = queue.Queue(maxsize=max(1, depth))
        self._thread: threading.Thread | None = None
        if threaded and enabled:
            self._thread = threading.Thread(target=self._run, name="sixtyfour-sha256", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        assert self._sha is not None
        while True:
            chunk = self._work.get()
            if chunk is None:
                return
            self._sha.update(chunk)

    def submit(self, chunk: bytes) -> None:
        """Add ``chunk`` to the digest (waits while ``depth`` chunks are still being hashed)."""
        if self._sha is None:
            return
        if self._thread is None:
            self._sha.update(chunk)
        else:
            self._work.put(chunk)

    def finish(self) -> str | None:
        """Wait for the hashing to catch up; the hex SHA-256 of everything submitted (None if disabled)."""
        self.close()
        return self._sha.hexdigest() if self._sha is not None else None

    def close(self) -> None:
        """Stop the helper thread (after it hashed what was submitted)."""
        if self._thread is not None:
            self._work.put(None)
            self._thread.join()
            self._thread = None
