"""A landed file's columns from its first bytes: CSV header, JSON array or NDJSON keys; never an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_provider_sixtyfour.lineage.columns import columns_from_head, read_columns


@pytest.mark.parametrize(
    ("head", "fmt", "whole", "expected"),
    [
        (b"name,company,email\nAda,Ex,a@x\n", "csv", False, ["name", "company", "email"]),
        (b"\xef\xbb\xbfname,email\r\nAda,a@x\r\n", "csv", False, ["name", "email"]),
        (b'"full\nname","say ""hi""",x\n1,2,3\n', "csv", False, ["full\nname", 'say "hi"', "x"]),
        (b"name,email", "csv", True, ["name", "email"]),
        (b"name,ema", "csv", False, None),  # cut inside the header: unknown, not a wrong guess
        (b'"name\nstill quoted', "csv", False, None),
        (b"", "csv", True, None),
        (b'[{"name": "Ada", "email": "a@x"},\n{"name": "Alan"}]', "json", True, ["name", "email"]),
        (b'  [ {"a": 1, "b": {"nested": true}}, {"a": 2', "json", False, ["a", "b"]),
        (b"[]", "json", True, None),
        (b'[{"a": 1, "b"', "json", False, None),
        (b'{"id": 1, "score": 0.5}\n{"id": 2}\n', "json", False, ["id", "score"]),
        (b'{"id": 1, "sco', "json", False, None),
        (b"[1, 2, 3]", "json", True, None),
        (b"not json at all", "json", True, None),
        (b"a,b\n", "parquet", True, None),
    ],
)
def test_columns_from_head(head: bytes, fmt: str, whole: bool, expected: list[str] | None) -> None:
    assert columns_from_head(head, fmt, whole_file=whole) == expected


def test_read_columns_reads_only_the_head_of_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("w") as handle:
        handle.write("company,domain,score\n")
        for i in range(200_000):
            handle.write(f"Company {i},c{i}.example,{i}\n")
    assert read_columns(path.as_uri(), "csv", limit=4096) == ["company", "domain", "score"]
    # A header longer than the limit is unknown rather than cut short.
    (tmp_path / "wide.csv").write_text(",".join(f"column_{i}" for i in range(2000)) + "\n1\n")
    assert read_columns((tmp_path / "wide.csv").as_uri(), "csv", limit=4096) is None
    assert read_columns((tmp_path / "wide.csv").as_uri(), "csv") == [f"column_{i}" for i in range(2000)]


def test_read_columns_of_a_missing_file_is_none_and_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert read_columns((tmp_path / "gone.csv").as_uri(), "csv") is None
    assert "could not read the columns" in caplog.text


def test_read_columns_of_an_s3_object_through_its_connection(moto_s3: Any) -> None:
    client = moto_s3.client()
    client.create_bucket(Bucket="landed")
    client.put_object(Bucket="landed", Key="runs/block_02.csv", Body=b"company,domain,industry\nA,a.test,x\n")
    assert read_columns("s3://landed/runs/block_02.csv", "csv", moto_s3.conn_id) == ["company", "domain", "industry"]
