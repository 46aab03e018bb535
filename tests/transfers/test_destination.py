"""Destinations: resolving URIs, and writers that publish a target only complete (file:// and S3 on moto)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.transfers.destination import (
    OBJECT_KEY_MAX_BYTES,
    Destination,
    LocalDestination,
    ObjectStoreDestination,
    resolve_destination,
)
from airflow_provider_sixtyfour.transfers.errors import SixtyfourDestinationError, SixtyfourTargetExistsError
from airflow_provider_sixtyfour.transfers.naming import PARTIAL_MARKER

MiB = 1 << 20


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ------------------------------------------------------------------------------------------------
# Resolving
# ------------------------------------------------------------------------------------------------


def test_resolve_file_uri_and_plain_path(tmp_path: Path) -> None:
    by_uri = resolve_destination(f"file://{tmp_path}/out/")
    by_path = resolve_destination(str(tmp_path / "out"))
    for dest in (by_uri, by_path):
        assert dest.protocol == "file"
        assert dest.root == str(tmp_path / "out")
        assert dest.is_local
        assert dest.uri(dest.target("a.csv")) == f"file://{tmp_path}/out/a.csv"


def test_local_and_object_store_destinations_share_one_base(tmp_path: Path) -> None:
    local = resolve_destination(str(tmp_path / "out"))
    assert type(local) is LocalDestination
    assert (local.bucket, local.max_name_bytes(), local.describe()) == ("", 255, f"file://{tmp_path}/out")
    store = ObjectStoreDestination(fs=local.fs, protocol="memory", root="bucket/some/prefix", conn_id="c")
    assert not store.is_local
    assert (store.bucket, store.uri()) == ("bucket", "memory://bucket/some/prefix")
    assert store.max_name_bytes() == OBJECT_KEY_MAX_BYTES - len("some/prefix") - 1
    assert store.describe() == "memory://bucket/some/prefix (connection 'c')"
    assert all(isinstance(d, Destination) for d in (local, store))
    with pytest.raises(TypeError):
        Destination(fs=local.fs, protocol="file", root="/x")  # type: ignore[abstract]


def test_resolve_s3_uri_with_conn_id(s3_conn_id: str) -> None:
    dest = resolve_destination("s3://bucket/sixtyfour/2024-06-01/", s3_conn_id)
    assert (dest.protocol, dest.root, dest.bucket, dest.conn_id) == (
        "s3",
        "bucket/sixtyfour/2024-06-01",
        "bucket",
        s3_conn_id,
    )
    assert dest.uri(dest.target("f.csv")) == "s3://bucket/sixtyfour/2024-06-01/f.csv"
    assert s3_conn_id not in dest.uri(dest.target("f.csv"))


def test_resolve_object_storage_path(s3_conn_id: str) -> None:
    dest = resolve_destination(ObjectStoragePath(f"s3://{s3_conn_id}@bucket/prefix/"))
    assert (dest.root, dest.conn_id) == ("bucket/prefix", s3_conn_id)
    override = resolve_destination(ObjectStoragePath("s3://bucket/prefix/"), s3_conn_id)
    assert override.conn_id == s3_conn_id


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "destination is empty"),
        (3, "must be a URI string"),
        # A bare file:// would be the worker's working directory, s3:// a bucket named "s3:".
        ("file://", r"names no folder \(a bare file:// would be the worker's working directory\)"),
        ("  file://  ", "names no folder"),
        ("s3://", r"destination 's3://' names no bucket: use s3://BUCKET/prefix/"),
        ("s3:///prefix/", "names no bucket"),
        ("s3://aws_default@/prefix/", "names no bucket"),
        ("gs://", "names no bucket: use gs://BUCKET/prefix/"),
        (ObjectStoragePath("s3://"), r"names no bucket: use s3://BUCKET/prefix/"),
    ],
)
def test_resolve_rejects_bad_values(value: object, message: str) -> None:
    with pytest.raises(SixtyfourInputError, match=message):
        resolve_destination(value)


def test_file_root_is_still_a_folder(tmp_path: Path) -> None:
    assert resolve_destination("file:///").root == "/"


def test_longest_names_each_destination_takes() -> None:
    assert resolve_destination("/tmp/out").max_name_bytes() == 255
    s3 = _memory_destination()
    prefix = s3.root.split("/", 1)[1]
    assert s3.max_name_bytes() == 1024 - len(prefix) - 1


# ------------------------------------------------------------------------------------------------
# Local files
# ------------------------------------------------------------------------------------------------


def test_local_target_appears_only_on_commit(tmp_path: Path) -> None:
    dest = resolve_destination(str(tmp_path / "new" / "folder"))
    dest.prepare()  # creates the folder: ObjectStoragePath.open("wb") would not
    sink = dest.open_sink("a.csv", overwrite=False, part_size=5 * MiB)
    sink.write(b"x" * 1000)
    folder = tmp_path / "new" / "folder"
    assert not (folder / "a.csv").exists()
    [partial] = _entries(folder)
    assert partial.startswith(PARTIAL_MARKER)
    assert len(partial) == len(PARTIAL_MARKER) + 16  # whatever the target's name: long names still land
    sink.commit()
    assert _entries(folder) == ["a.csv"]
    assert (folder / "a.csv").read_bytes() == b"x" * 1000


def test_local_abort_leaves_nothing(tmp_path: Path) -> None:
    dest = resolve_destination(str(tmp_path))
    sink = dest.open_sink("a.csv", overwrite=True, part_size=5 * MiB)
    sink.write(b"partial")
    sink.abort()
    assert _entries(tmp_path) == []


def test_local_exclusive_create_refuses_a_target_that_appeared(tmp_path: Path) -> None:
    dest = resolve_destination(str(tmp_path))
    sink = dest.open_sink("a.csv", overwrite=False, part_size=5 * MiB)
    sink.write(b"new")
    (tmp_path / "a.csv").write_bytes(b"someone else's")
    with pytest.raises(SixtyfourTargetExistsError, match=r"a\.csv already exists; pass overwrite=True"):
        sink.commit()
    assert _entries(tmp_path) == ["a.csv"]
    assert (tmp_path / "a.csv").read_bytes() == b"someone else's"


def test_local_overwrite_replaces(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_bytes(b"old")
    dest = resolve_destination(str(tmp_path))
    sink = dest.open_sink("a.csv", overwrite=True, part_size=5 * MiB)
    sink.write(b"new")
    sink.commit()
    assert (tmp_path / "a.csv").read_bytes() == b"new"
    assert _entries(tmp_path) == ["a.csv"]


def test_local_folder_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    dest = resolve_destination(str(blocker / "sub"))
    with pytest.raises(SixtyfourDestinationError, match="cannot create the destination folder"):
        dest.prepare()


# ------------------------------------------------------------------------------------------------
# S3 (moto)
# ------------------------------------------------------------------------------------------------


def _keys(moto_s3: Any, bucket: str) -> list[str]:
    answer = moto_s3.client().list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", []))


def _pending_uploads(moto_s3: Any, bucket: str) -> list[str]:
    answer = moto_s3.client().list_multipart_uploads(Bucket=bucket)
    return [item["Key"] for item in answer.get("Uploads", [])]


def test_s3_multipart_object_invisible_until_commit(moto_s3: Any, s3_conn_id: str, s3_bucket: str) -> None:
    dest = resolve_destination(f"s3://{s3_bucket}/out/", s3_conn_id)
    dest.prepare()
    sink = dest.open_sink("big.csv", overwrite=False, part_size=5 * MiB)
    for _ in range(3):
        sink.write(os.urandom(4 * MiB))  # 12 MiB: two parts uploaded before the commit
    assert _keys(moto_s3, s3_bucket) == []
    assert _pending_uploads(moto_s3, s3_bucket) == ["out/big.csv"]
    sink.commit()
    assert _keys(moto_s3, s3_bucket) == ["out/big.csv"]
    assert _pending_uploads(moto_s3, s3_bucket) == []
    head = moto_s3.client().head_object(Bucket=s3_bucket, Key="out/big.csv")
    assert head["ContentLength"] == 12 * MiB


def test_s3_abort_leaves_no_object_and_no_upload(moto_s3: Any, s3_conn_id: str, s3_bucket: str) -> None:
    dest = resolve_destination(f"s3://{s3_bucket}/out/", s3_conn_id)
    sink = dest.open_sink("big.csv", overwrite=True, part_size=5 * MiB)
    sink.write(os.urandom(11 * MiB))
    sink.abort()
    assert _keys(moto_s3, s3_bucket) == []
    assert _pending_uploads(moto_s3, s3_bucket) == []


@pytest.mark.parametrize("size", [100, 12 * MiB], ids=["one-shot", "multipart"])
def test_s3_exclusive_create(moto_s3: Any, s3_conn_id: str, s3_bucket: str, size: int) -> None:
    moto_s3.client().put_object(Bucket=s3_bucket, Key="out/a.csv", Body=b"theirs")
    dest = resolve_destination(f"s3://{s3_bucket}/out/", s3_conn_id)

    def land() -> None:
        sink = dest.open_sink("a.csv", overwrite=False, part_size=5 * MiB)
        sink.write(b"y" * size)
        sink.commit()

    with pytest.raises(SixtyfourTargetExistsError, match=rf"s3://{s3_bucket}/out/a\.csv already exists"):
        land()
    body = moto_s3.client().get_object(Bucket=s3_bucket, Key="out/a.csv")["Body"].read()
    assert body == b"theirs"
    assert _pending_uploads(moto_s3, s3_bucket) == []


def test_s3_missing_bucket_is_named(s3_conn_id: str) -> None:
    dest = resolve_destination("s3://no-such-bucket-here/out/", s3_conn_id)
    with pytest.raises(SixtyfourDestinationError, match="bucket 'no-such-bucket-here' does not exist"):
        dest.prepare()


def test_local_fsync_commit(tmp_path: Path) -> None:
    dest = resolve_destination(str(tmp_path))
    for overwrite in (False, True):
        sink = dest.open_sink("a.csv", overwrite=overwrite, part_size=5 * MiB, fsync=True)
        sink.write(b"durable")
        sink.commit()
    assert _entries(tmp_path) == ["a.csv"]
    assert (tmp_path / "a.csv").read_bytes() == b"durable"


# ------------------------------------------------------------------------------------------------
# Any other store: temporary sibling, then mv (fsspec's in-memory filesystem stands in)
# ------------------------------------------------------------------------------------------------


def _memory_destination() -> Any:
    import uuid

    from fsspec.implementations.memory import MemoryFileSystem

    from airflow_provider_sixtyfour.transfers.destination import ObjectStoreDestination

    return ObjectStoreDestination(fs=MemoryFileSystem(), protocol="memory", root=f"/landing-{uuid.uuid4().hex[:8]}/out")


def test_other_store_writes_a_temporary_sibling_then_moves() -> None:
    dest = _memory_destination()
    sink = dest.open_sink("a.csv", overwrite=False, part_size=5 * MiB)
    sink.write(b"complete")
    listed = [p.rsplit("/", 1)[1] for p in dest.fs.ls(dest.root, detail=False)]
    assert len(listed) == 1
    assert listed[0].startswith(PARTIAL_MARKER)
    assert not dest.exists(dest.target("a.csv"))
    sink.commit()
    assert [p.rsplit("/", 1)[1] for p in dest.fs.ls(dest.root, detail=False)] == ["a.csv"]
    assert dest.fs.cat_file(dest.target("a.csv")) == b"complete"
    assert dest.uri(dest.target("a.csv")) == f"memory://{dest.root}/a.csv"


def test_other_store_abort_and_existing_target() -> None:
    dest = _memory_destination()
    sink = dest.open_sink("a.csv", overwrite=False, part_size=5 * MiB)
    sink.write(b"partial")
    sink.abort()
    assert not dest.fs.exists(dest.root) or dest.fs.ls(dest.root, detail=False) == []

    dest.fs.pipe_file(dest.target("a.csv"), b"theirs")
    sink = dest.open_sink("a.csv", overwrite=False, part_size=5 * MiB)
    sink.write(b"mine")
    with pytest.raises(SixtyfourTargetExistsError):
        sink.commit()
    assert dest.fs.cat_file(dest.target("a.csv")) == b"theirs"
    assert [p.rsplit("/", 1)[1] for p in dest.fs.ls(dest.root, detail=False)] == ["a.csv"]

    sink = dest.open_sink("a.csv", overwrite=True, part_size=5 * MiB)
    sink.write(b"mine")
    sink.commit()
    assert dest.fs.cat_file(dest.target("a.csv")) == b"mine"
