"""The copy loop's two helpers: filling reusable buffers from a response, and SHA-256 on another thread.

A plain ``read -> hash -> write`` loop runs at about half the speed of ``curl -o`` here: SHA-256
costs as much CPU as the write itself. So the body is read straight into a small pool of reusable
buffers (no per-chunk allocation, no extra copy), each buffer is written by the downloading thread
and hashed at the same time by a helper thread, and goes back to the pool once hashed. Memory per
file is ``depth`` buffers, whatever the file's size.
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any


class BodyReader:
    """Fills caller-owned buffers with a response body.

    With no content encoding it reads from the underlying ``http.client`` response with
    ``readinto`` (one copy, from the socket into the buffer); otherwise it lets urllib3 decode.

    :param raw: the ``urllib3`` response (``requests.Response.raw``).
    :param decode: whether the body has a ``Content-Encoding`` to undo.
    """

    def __init__(self, raw: Any, decode: bool) -> None:
        self._raw = raw
        self._decode = decode
        fp = getattr(raw, "_fp", None)  # urllib3's http.client response, in urllib3 1.x and 2.x
        self._fp = fp if not decode and callable(getattr(fp, "readinto", None)) else None
        self.wire_bytes = 0

    def fill(self, buffer: memoryview) -> int:
        """Fill ``buffer`` as far as the body goes; 0 at its end."""
        if self._fp is None:
            return self._fill_decoded(buffer)
        size = len(buffer)
        got = 0
        while got < size:
            n = self._fp.readinto(buffer[got:])
            if not n:
                break
            got += n
        self.wire_bytes += got
        return got

    def _fill_decoded(self, buffer: memoryview) -> int:
        data = self._raw.read(len(buffer), decode_content=self._decode)
        if not data:
            self.wire_bytes = int(self._raw.tell())
            return 0
        buffer[: len(data)] = data
        self.wire_bytes = int(self._raw.tell())
        return len(data)


class HashingPipeline:
    """SHA-256 of a stream of buffers, computed on a helper thread, with a fixed pool of buffers.

    Use: ``buf = pipe.take()``, fill it, ``pipe.submit(buf, n)``, write ``buf[:n]`` synchronously,
    repeat; ``pipe.finish()`` returns the hex digest. ``close()`` (always, e.g. in ``finally``)
    stops the thread. With ``threaded=False`` (small files) hashing happens inline.

    :param buffer_size: bytes per buffer (the read/write chunk).
    :param depth: buffers in the pool: how far reading and writing may run ahead of hashing.
    :param threaded: hash on a helper thread (pointless for bodies of one buffer or less).
    :param enabled: compute the digest at all; when False, :meth:`finish` returns None.
    """

    def __init__(self, buffer_size: int, depth: int = 3, threaded: bool = True, enabled: bool = True) -> None:
        self._sha = hashlib.sha256() if enabled else None
        threaded = threaded and enabled
        self._free: queue.Queue[memoryview] = queue.Queue()
        for _ in range(depth if threaded else 1):
            self._free.put(memoryview(bytearray(buffer_size)))
        self._work: queue.Queue[tuple[memoryview, int] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name="sixtyfour-sha256", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            buffer, n = item
            assert self._sha is not None
            self._sha.update(buffer[:n])
            self._free.put(buffer)

    def take(self) -> memoryview:
        """A free buffer (waits while every buffer is still being hashed)."""
        return self._free.get()

    def submit(self, buffer: memoryview, n: int) -> None:
        """Hash ``buffer[:n]``; the buffer returns to the pool afterwards. Do not change it meanwhile."""
        if self._thread is None:
            if self._sha is not None:
                self._sha.update(buffer[:n])
            self._free.put(buffer)
        else:
            self._work.put((buffer, n))

    def give_back(self, buffer: memoryview) -> None:
        """Return a buffer that was taken but not submitted."""
        self._free.put(buffer)

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
