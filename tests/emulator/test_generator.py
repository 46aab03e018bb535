"""The result-file generator on its own (no HTTP): exact sizes at the edges, byte ranges, valid CSV."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable

import pytest

from airflow_provider_sixtyfour.emulator.inputs import PayloadInput, SampleInput
from airflow_provider_sixtyfour.emulator.results import FileGenerator, ResultFile

JOB = "6f1c1a56-1f0e-4d38-9a54-5b0c3b0e2a11"


def _file(result_bytes: int | None, rows: int = 3, fmt: str = "csv") -> ResultFile:
    inputs = PayloadInput.from_payload([{"name": "Ada", "company": "Acme, Inc."}, {"name": "Bob"}])
    return ResultFile(
        job_id=JOB,
        block_number=3,
        blocks=("webhook", "enrich_lead", "find_email"),
        fmt=fmt,
        inputs=inputs,
        rows=rows,
        result_bytes=result_bytes,
    )


def _content(generator: FileGenerator, file: ResultFile) -> bytes:
    return b"".join(generator.iter_bytes(file, generator.layout(file)))


def test_natural_file_without_result_bytes() -> None:
    generator = FileGenerator()
    file = _file(None, rows=5)
    content = _content(generator, file)
    layout = generator.layout(file)
    assert layout.size == len(content)
    assert layout.row_count == 5
    rows = list(csv.reader(io.StringIO(content.decode(), newline="")))
    assert rows[0] == file.columns()
    assert [r[0] for r in rows[1:]] == ["Ada", "Bob", "Ada", "Bob", "Ada"]  # input rows repeat up to rows_out


def test_every_size_just_above_the_natural_size_is_exact() -> None:
    generator = FileGenerator()
    natural = generator.layout(_file(None)).size
    pad_row = None
    for extra in range(0, 700, 7):
        target = natural + extra
        file = _file(target)
        layout = generator.layout(file)
        content = _content(generator, file)
        assert len(content) == layout.size
        rows = list(csv.reader(io.StringIO(content.decode(), newline="")))
        assert len(rows) - 1 == layout.row_count
        assert all(len(row) == len(rows[0]) for row in rows)
        if extra == 0:
            assert layout.size == natural
        elif layout.size != target:
            # Only when the room is smaller than the shortest padding row can the size not be met.
            pad_row = pad_row or layout.size - natural
            assert extra < layout.size - natural
        assert layout.size >= target


def test_sizes_far_above_are_exact_and_rows_are_counted() -> None:
    generator = FileGenerator()
    for target in (10_000, 1 << 20, (1 << 20) + 1, 5 * (1 << 20) - 3):
        file = _file(target)
        layout = generator.layout(file)
        content = _content(generator, file)
        assert layout.size == len(content) == target
        assert content.count(b"\n") >= layout.row_count + 1
        assert hashlib.sha256(content).hexdigest() == generator.sha256(file)


@pytest.mark.parametrize(("start", "end"), [(0, 10), (5, 5000), (1000, None), (2**20 - 3, 2**20 + 300), (0, None)])
def test_byte_ranges_are_slices_of_the_whole(start: int, end: int | None) -> None:
    generator = FileGenerator()
    file = _file(3 * (1 << 20) + 11)
    layout = generator.layout(file)
    whole = _content(generator, file)
    part = b"".join(generator.iter_bytes(file, layout, start, end))
    assert part == whole[start:end]


def test_json_file_is_the_rows_as_objects() -> None:
    import json

    generator = FileGenerator()
    csv_file, json_file = _file(None, rows=4), _file(None, rows=4, fmt="json")
    rows = list(csv.reader(io.StringIO(_content(generator, csv_file).decode(), newline="")))
    data = json.loads(_content(generator, json_file))
    assert data == [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert json_file.content_type == "application/json"


def test_sample_input_is_seeded() -> None:
    assert list(SampleInput(seed="a").iter_rows()) == list(SampleInput(seed="a").iter_rows())
    assert list(SampleInput(seed="a").iter_rows()) != list(SampleInput(seed="b").iter_rows())


def test_the_layout_cache_keeps_the_most_recently_used_values_and_makes_each_once() -> None:
    from airflow_provider_sixtyfour.emulator.results import _Lru

    made: list[str] = []

    def make(name: str) -> Callable[[], str]:
        return lambda: made.append(name) or name

    cache: _Lru[str] = _Lru(2)
    keys = {name: (name, "csv", 1, None) for name in "abc"}
    assert cache.get(keys["a"], make("a")) == "a"
    assert cache.get(keys["b"], make("b")) == "b"
    assert cache.get(keys["a"], make("a")) == "a"  # cached; "a" is now the most recent
    assert cache.get(keys["c"], make("c")) == "c"  # drops "b", the least recently used
    assert cache.get(keys["a"], make("a")) == "a"
    assert cache.get(keys["b"], make("b")) == "b"
    assert made == ["a", "b", "c", "b"]
