"""Result files, generated as a stream: deterministic CSV (or JSON, or NDJSON) of any exact size.

A file is the header, the natural rows (input rows with each block's enrichment columns), and, when
``result_bytes`` asks for a bigger file, synthetic padding rows. Padding rows all have the same
length and repeat in a cycle, so the padding is served from one cached chunk at memory speed while
the exact size and row count stay known up front (``Content-Length``, ``file_size``, ``row_count``).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from airflow_provider_sixtyfour.emulator.enrichment import NOTES_COLUMN, block_columns, block_values, notes_value
from airflow_provider_sixtyfour.emulator.inputs import InputRows

V = TypeVar("V")

CHUNK_BYTES = 1 << 20
_BASE_FLUSH_BYTES = 256 * 1024
_PAD_CYCLE = 64
_PAD_ROW_MIN = 256
_FILLER = "synthetic padding row to reach the configured result size " * 8
INLINE_RESULTS_MAX_ROWS = 20

CONTENT_TYPES = {"csv": "text/csv", "json": "application/json", "ndjson": "application/x-ndjson"}


@dataclass(frozen=True, eq=False)
class ResultFile:
    """One result file of a run: what block ``block_number`` produced, in ``fmt``.

    :param blocks: the names of blocks 1..``block_number`` (their enrichment columns are in this file).
    :param rows: natural rows (before padding).
    :param result_bytes: exact file size to pad a CSV to, or None.
    """

    job_id: str
    block_number: int
    blocks: tuple[str, ...]
    fmt: str
    inputs: InputRows
    rows: int
    result_bytes: int | None = None

    @property
    def filename(self) -> str:
        return f"block_{self.block_number:02d}_{self.blocks[-1]}.{self.fmt}"

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.fmt]

    @property
    def cache_key(self) -> tuple[str, str, int, int | None]:
        return (self.job_id, self.filename, self.rows, self.result_bytes)

    def columns(self) -> list[str]:
        columns = list(self.inputs.columns)
        for name in self.blocks:
            columns.extend(block_columns(name))
        columns.append(NOTES_COLUMN)
        return columns

    def iter_records(self) -> Iterator[list[str]]:
        """The natural rows, cells aligned with :meth:`columns`."""
        in_columns = self.inputs.columns
        last = self.blocks[-1]
        for index, row in enumerate(self.inputs.cycle(self.rows)):
            out = list(row)
            for sequence, name in enumerate(self.blocks, start=1):
                out.extend(block_values(name, self.job_id, sequence, index, in_columns, row))
            out.append(notes_value(last, self.job_id, self.block_number, index))
            yield out


@dataclass(frozen=True)
class Layout:
    """The exact shape of a generated file."""

    size: int
    row_count: int
    base_size: int
    base_rows: int
    pad_rows: int = 0
    pad_row_len: int = 0
    last_extra: int = 0


def _csv_text(rows: list[list[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _iter_base(file: ResultFile) -> Iterator[bytes]:
    """Header and natural rows, in chunks of about 256 KiB."""
    if file.fmt == "json":
        yield from _iter_json(file)
        return
    if file.fmt == "ndjson":
        yield from _iter_ndjson(file)
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(file.columns())
    for record in file.iter_records():
        writer.writerow(record)
        if buffer.tell() >= _BASE_FLUSH_BYTES:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue().encode()


def _iter_json(file: ResultFile) -> Iterator[bytes]:
    columns = file.columns()
    parts: list[str] = ["["]
    size = 1
    first = True
    for record in file.iter_records():
        text = json.dumps(dict(zip(columns, record, strict=True)), ensure_ascii=False)
        parts.append(text if first else ",\n" + text)
        first = False
        size += len(text)
        if size >= _BASE_FLUSH_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    parts.append("]")
    yield "".join(parts).encode()


def _iter_ndjson(file: ResultFile) -> Iterator[bytes]:
    """One JSON object a line, each line ended by a newline (no header, no enclosing list)."""
    columns = file.columns()
    parts: list[str] = []
    size = 0
    for record in file.iter_records():
        text = json.dumps(dict(zip(columns, record, strict=True)), ensure_ascii=False) + "\n"
        parts.append(text)
        size += len(text)
        if size >= _BASE_FLUSH_BYTES:
            yield "".join(parts).encode()
            parts, size = [], 0
    if parts:
        yield "".join(parts).encode()


class _PadCycle:
    """The cycle of equal-length padding rows of one file, and a ~1 MiB chunk of whole cycles."""

    def __init__(self, file: ResultFile) -> None:
        columns = file.columns()
        n_in = len(file.inputs.columns)
        bare: list[str] = []
        for j in range(_PAD_CYCLE):
            index = file.rows + j
            row = [f"pad-{j:02d}"] * n_in
            out = list(row)
            for sequence, name in enumerate(file.blocks, start=1):
                out.extend(block_values(name, file.job_id, sequence, index, file.inputs.columns, row))
            # An empty notes cell ends the row with ",\n"; filler text appended there adds exactly its length.
            out.append("")
            assert len(out) == len(columns)
            bare.append(_csv_text([out]))
        self.bare_lens = [len(text.encode()) for text in bare]
        self.row_len = max(max(self.bare_lens) + 16, _PAD_ROW_MIN)
        self._bare = bare
        cycle = b"".join(self.row(j) for j in range(_PAD_CYCLE))
        self.chunk = cycle * max(1, CHUNK_BYTES // len(cycle))

    def row(self, j: int, extra: int = 0) -> bytes:
        """Padding row ``j`` of the cycle, ``extra`` bytes longer than :attr:`row_len`."""
        j %= _PAD_CYCLE
        fill = self.row_len - self.bare_lens[j] + extra
        text = self._bare[j]
        return (text[:-1] + _filler(fill) + "\n").encode()


def _filler(length: int) -> str:
    if length <= len(_FILLER):
        return _FILLER[:length]
    return (_FILLER * (length // len(_FILLER) + 1))[:length]


class _Lru(Generic[V]):
    """A small thread-safe least-recently-used cache; a missing value is made outside the lock."""

    def __init__(self, size: int) -> None:
        self._items: OrderedDict[tuple[str, str, int, int | None], V] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, int, int | None], make: Callable[[], V]) -> V:
        """The cached value of ``key``, or ``make()``'s, cached (the oldest values beyond the size dropped)."""
        with self._lock:
            cached = self._items.get(key)
            if cached is not None:
                self._items.move_to_end(key)
                return cached
        value = make()
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class FileGenerator:
    """Measures and streams result files; caches layouts and padding chunks (small, bounded)."""

    def __init__(self, cache_size: int = 256) -> None:
        self._layouts: _Lru[Layout] = _Lru(cache_size)
        self._pads: _Lru[_PadCycle] = _Lru(8)

    def layout(self, file: ResultFile) -> Layout:
        """The file's exact size and row count (generates the natural rows once to measure them)."""
        return self._layouts.get(file.cache_key, lambda: self._measure(file))

    def _pad(self, file: ResultFile) -> _PadCycle:
        return self._pads.get(file.cache_key, lambda: _PadCycle(file))

    def _measure(self, file: ResultFile) -> Layout:
        base_size = sum(len(chunk) for chunk in _iter_base(file))
        base_rows = file.rows
        target = file.result_bytes
        if file.fmt != "csv" or target is None or target <= base_size:
            return Layout(size=base_size, row_count=base_rows, base_size=base_size, base_rows=base_rows)
        pad = self._pad(file)
        room = target - base_size
        count, extra = divmod(room, pad.row_len)
        if count == 0:
            # Less room than one padding row: one shorter row, unless even its bare form does not fit.
            count, extra = 1, max(room, pad.bare_lens[0]) - pad.row_len
        size = base_size + count * pad.row_len + extra
        return Layout(
            size=size,
            row_count=base_rows + count,
            base_size=base_size,
            base_rows=base_rows,
            pad_rows=count,
            pad_row_len=pad.row_len,
            last_extra=extra,
        )

    def iter_bytes(self, file: ResultFile, layout: Layout, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """The file's bytes ``[start, end)`` as a stream of chunks (whole file by default)."""
        stop = layout.size if end is None else min(end, layout.size)
        if start >= stop:
            return
        position = 0
        for chunk in self._iter_all(file, layout):
            chunk_end = position + len(chunk)
            if chunk_end > start:
                lo = max(0, start - position)
                hi = min(len(chunk), stop - position)
                yield chunk if lo == 0 and hi == len(chunk) else chunk[lo:hi]
            position = chunk_end
            if position >= stop:
                return

    def _iter_all(self, file: ResultFile, layout: Layout) -> Iterator[bytes]:
        yield from _iter_base(file)
        if not layout.pad_rows:
            return
        pad = self._pad(file)
        regular = (layout.pad_rows - 1) * pad.row_len
        chunk = pad.chunk
        full, rest = divmod(regular, len(chunk))
        for _ in range(full):
            yield chunk
        if rest:
            yield chunk[:rest]
        yield pad.row(layout.pad_rows - 1, layout.last_extra)

    def sha256(self, file: ResultFile) -> str:
        """The SHA-256 of exactly the bytes the emulator serves for ``file``."""
        layout = self.layout(file)
        digest = hashlib.sha256()
        for chunk in self.iter_bytes(file, layout):
            digest.update(chunk)
        return digest.hexdigest()

    def inline_results(self, file: ResultFile, layout: Layout) -> list[dict[str, str]] | None:
        """The rows inline (small unpadded files only), as ``download-links`` embeds them; else None."""
        if layout.pad_rows or layout.row_count > INLINE_RESULTS_MAX_ROWS:
            return None
        columns = file.columns()
        return [dict(zip(columns, record, strict=True)) for record in file.iter_records()]
