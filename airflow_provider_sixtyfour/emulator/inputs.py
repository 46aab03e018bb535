"""The rows a run enriches: its webhook payload, an uploaded CSV, or synthetic sample leads."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Dennis", "Barbara", "Ken", "Frances")
_LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Ritchie", "Liskov", "Thompson", "Allen")
_COMPANIES = (
    ("Acme Analytics", "acme-analytics.example"),
    ("Globex", "globex.example"),
    ("Initech", "initech.example"),
    ("Umbrella Data", "umbrella-data.example"),
    ("Hooli", "hooli.example"),
    ("Stark Logistics", "stark-logistics.example"),
    ("Wayne Robotics", "wayne-robotics.example"),
    ("Soylent Foods", "soylent.example"),
)
SAMPLE_ROWS = 10


def cell(value: object) -> str:
    """A payload value as CSV cell text (objects and lists as JSON, None as empty)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def digest(*parts: object) -> int:
    """A stable 64-bit number from ``parts`` (deterministic content without per-row RNG objects)."""
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


class InputRows:
    """A run's input rows: column names, row count, and an iterator of rows as cell texts."""

    columns: tuple[str, ...]
    count: int

    def iter_rows(self) -> Iterator[list[str]]:
        """Every input row once, each a list of cells aligned with :attr:`columns`."""
        raise NotImplementedError

    def cycle(self, total: int) -> Iterator[list[str]]:
        """``total`` rows, repeating the input from the start when more rows are asked than exist."""
        produced = 0
        while produced < total:
            yielded = False
            for row in self.iter_rows():
                if produced >= total:
                    return
                yielded = True
                produced += 1
                yield row
            if not yielded:
                return


@dataclass(frozen=True, eq=False)
class PayloadInput(InputRows):
    """Rows of a ``webhook_payload`` (a dict or a list of dicts); columns in order of first appearance."""

    rows: tuple[Mapping[str, Any], ...]
    columns: tuple[str, ...]
    count: int

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> PayloadInput:
        rows = (payload,) if isinstance(payload, Mapping) else tuple(payload)
        columns: dict[str, None] = {}
        for row in rows:
            for key in row:
                columns.setdefault(str(key), None)
        return cls(rows=rows, columns=tuple(columns) or ("input",), count=len(rows))

    def iter_rows(self) -> Iterator[list[str]]:
        for row in self.rows:
            yield [cell(row.get(column)) for column in self.columns]


@dataclass(frozen=True, eq=False)
class CsvFileInput(InputRows):
    """Rows of an uploaded CSV file on disk (read again whenever results are generated)."""

    path: Path
    columns: tuple[str, ...]
    count: int

    @classmethod
    def scan(cls, path: Path) -> CsvFileInput:
        """Read the header and count the rows; raises ValueError when it is not a usable CSV."""
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            try:
                header = next(reader)
            except StopIteration:
                raise ValueError("the CSV is empty") from None
            except csv.Error as err:
                raise ValueError(f"the file is not a readable CSV: {err}") from None
            if not any(name.strip() for name in header):
                raise ValueError("the CSV's first line must be a header naming its columns")
            count = 0
            try:
                for row in reader:
                    if row:
                        count += 1
            except csv.Error as err:
                raise ValueError(f"the file is not a readable CSV (line {reader.line_num}): {err}") from None
        columns = tuple(name.strip() or f"column_{i + 1}" for i, name in enumerate(header))
        if count == 0:
            raise ValueError("the CSV has a header but no rows")
        return cls(path=path, columns=columns, count=count)

    def iter_rows(self) -> Iterator[list[str]]:
        width = len(self.columns)
        with self.path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            for row in reader:
                if not row:
                    continue
                if len(row) != width:
                    row = (row + [""] * width)[:width]
                yield row


@dataclass(frozen=True, eq=False)
class SampleInput(InputRows):
    """Synthetic leads for runs that were given no input, seeded by the run's id."""

    seed: str
    columns: tuple[str, ...] = ("first_name", "last_name", "company", "domain")
    count: int = SAMPLE_ROWS

    def iter_rows(self) -> Iterator[list[str]]:
        for index in range(self.count):
            h = digest(self.seed, "sample", index)
            company, domain = _COMPANIES[h % len(_COMPANIES)]
            yield [_FIRST[(h >> 8) % len(_FIRST)], _LAST[(h >> 16) % len(_LAST)], company, domain]
