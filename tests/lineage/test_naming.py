"""Dataset names by the OpenLineage naming spec, from the URIs the operators read and write."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.lineage.naming import DatasetName, dataset_name, uri_of


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://leads-bucket/in/2026-03-01.csv", DatasetName("s3://leads-bucket", "in/2026-03-01.csv", "s3")),
        ("s3://aws_prod@leads-bucket/in/a.csv", DatasetName("s3://leads-bucket", "in/a.csv", "s3")),
        ("s3://key:secret@b/k.csv?versionId=3", DatasetName("s3://b", "k.csv", "s3")),
        ("gs://bucket/deep/path/f.json", DatasetName("gs://bucket", "deep/path/f.json", "gs")),
        ("gcs://bucket/f.csv", DatasetName("gs://bucket", "f.csv", "gs")),
        ("file:///data/sixtyfour/block_01.csv", DatasetName("file", "/data/sixtyfour/block_01.csv", "file")),
        ("file://etl-host/data/x.csv", DatasetName("file://etl-host", "/data/x.csv", "file")),
        ("file:///data/with%20space.csv", DatasetName("file", "/data/with space.csv", "file")),
        ("/data/./plain/../plain.csv", DatasetName("file", "/data/plain.csv", "file")),
        ("hdfs://namenode:8020/warehouse/f.csv", DatasetName("hdfs://namenode:8020", "/warehouse/f.csv", "hdfs")),
    ],
)
def test_names_follow_the_openlineage_spec(uri: str, expected: DatasetName) -> None:
    assert dataset_name(uri) == expected


@pytest.mark.parametrize("uri", ["", "   ", "s3://", "s3://bucket-only", "s3://bucket/", "file://", "file:///"])
def test_a_uri_that_names_no_file_is_refused_saying_so(uri: str) -> None:
    with pytest.raises(ValueError, match="cannot name a dataset"):
        dataset_name(uri)


def test_a_refused_uri_never_echoes_credentials() -> None:
    with pytest.raises(ValueError, match="cannot name a dataset") as caught:
        dataset_name("s3://AKIAEXAMPLE:hunter2@bucket?token=abc")
    assert "hunter2" not in str(caught.value)
    assert "token" not in str(caught.value)


def test_uri_of_a_string_and_an_object_storage_path() -> None:
    from airflow.providers.common.compat.sdk import ObjectStoragePath

    assert uri_of("  s3://b/k.csv ") == "s3://b/k.csv"
    assert uri_of("") is None
    assert uri_of(42) is None
    assert dataset_name(uri_of(ObjectStoragePath("s3://b/in/k.csv", conn_id="aws")) or "") == DatasetName(
        "s3://b", "in/k.csv", "s3"
    )
    assert dataset_name(uri_of(ObjectStoragePath("file:///tmp/x/k.csv")) or "") == DatasetName(
        "file", "/tmp/x/k.csv", "file"
    )
