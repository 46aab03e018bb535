"""The copy loop's two helpers: reading a response body a system call at a time, and SHA-256 on another thread.

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
from typing import Any


class BodyReader:
    """Reads a response body in chunks of at most one system call each.

    With no content encoding it reads from the underlying ``http.client`` response with ``read1``
    (which also handles chunked transfer encoding and the body's length); otherwise it lets urllib3
    decode.

    :param raw: the ``urllib3`` response (``requests.Response.raw``).
    :param decode: whether the body has a ``Content-Encoding`` to undo.
    """

    def __init__(self, raw: Any, decode: bool) -> None:
        self._raw = raw
        self._decode = decode
        fp = getattr(raw, "_fp", None)  # urllib3's http.client response, in urllib3 1.x and 2.x
        self._fp = fp if not decode and callable(getattr(fp, "read1", None)) else None
        self.wire_bytes = 0

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body (what one read returned); ``b""`` at its end."""
        if self._fp is None:
            data = self._raw.read(size, decode_content=self._decode) or b""
            self.wire_bytes = int(self._raw.tell())
            return bytes(data)
        data = self._fp.read1(size)
        self.wire_bytes += len(data)
        return bytes(data)


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
