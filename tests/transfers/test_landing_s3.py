"""``land_results`` into S3 (a moto server on 127.0.0.1, reached through an ``aws`` connection)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from helpers.landing import BLOCKS3, FAST, MiB, Runs

from airflow_provider_sixtyfour.emulator import STORAGE_ROUTE, FaultRule
from airflow_provider_sixtyfour.transfers import (
    DownloadOptions,
    SixtyfourDestinationError,
    SixtyfourDownloadError,
    SixtyfourTargetExistsError,
    land_results,
)

# Every test here fails if a signed URL (or the key) reaches the provider's logs.
pytestmark = pytest.mark.usefixtures("audit_provider_logs")


def _objects(moto_s3: Any, bucket: str) -> dict[str, bytes]:
    client = moto_s3.client()
    keys = [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in sorted(keys)}


def _pending_uploads(moto_s3: Any, bucket: str) -> list[str]:
    return [u["Key"] for u in moto_s3.client().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_lands_every_file_in_s3(
    emulator: Any, hook: Any, runs: Runs, moto_s3: Any, s3_conn_id: str, s3_bucket: str
) -> None:
    # 12 MiB files: bigger than the 8 MiB part size, so each goes up as a multipart upload.
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=12 * MiB)
    landed = land_results(
        hook, job_id, f"s3://{s3_bucket}/sixtyfour/2024-06-01/", destination_conn_id=s3_conn_id, options=FAST
    )
    objects = _objects(moto_s3, s3_bucket)
    assert sorted(objects) == [f"sixtyfour/2024-06-01/{f.filename}" for f in landed]
    for f in landed:
        body = objects[f"sixtyfour/2024-06-01/{f.filename}"]
        assert f.uri == f"s3://{s3_bucket}/sixtyfour/2024-06-01/{f.filename}"
        assert f.bytes == len(body) == 12 * MiB
        assert f.sha256 == hashlib.sha256(body).hexdigest() == emulator.file_sha256(job_id, f.filename)
    assert _pending_uploads(moto_s3, s3_bucket) == []


def test_final_file_in_s3_with_conn_id_in_the_uri(
    hook: Any, runs: Runs, moto_s3: Any, s3_conn_id: str, s3_bucket: str
) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    landed = land_results(hook, job_id, f"s3://{s3_conn_id}@{s3_bucket}/out", files="final", options=FAST)
    assert [f.uri for f in landed] == [f"s3://{s3_bucket}/out/block_03_find_email.csv"]
    assert list(_objects(moto_s3, s3_bucket)) == ["out/block_03_find_email.csv"]


def test_overwrite_both_ways_in_s3(
    emulator: Any, hook: Any, runs: Runs, moto_s3: Any, s3_conn_id: str, s3_bucket: str
) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    moto_s3.client().put_object(Bucket=s3_bucket, Key="out/block_01_webhook.csv", Body=b"old")
    destination = f"s3://{s3_bucket}/out/"
    with pytest.raises(SixtyfourTargetExistsError, match=rf"s3://{s3_bucket}/out/block_01_webhook\.csv already exists"):
        land_results(hook, job_id, destination, destination_conn_id=s3_conn_id, options=FAST)
    assert _objects(moto_s3, s3_bucket) == {"out/block_01_webhook.csv": b"old"}

    land_results(hook, job_id, destination, destination_conn_id=s3_conn_id, overwrite=True, options=FAST)
    objects = _objects(moto_s3, s3_bucket)
    assert len(objects) == 3
    assert objects["out/block_01_webhook.csv"] == emulator.file_bytes(job_id, "block_01_webhook.csv")


def test_failed_download_leaves_no_object_and_no_upload(
    emulator: Any, hook: Any, runs: Runs, moto_s3: Any, s3_conn_id: str, s3_bucket: str
) -> None:
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=20 * MiB)
    # Cut at 60%: two 8 MiB parts are already uploaded when the body breaks.
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="truncate", fraction=0.6, filename="block_02_*"))
    with pytest.raises(SixtyfourDownloadError, match=r"'block_02_enrich_lead\.csv' could not be downloaded"):
        land_results(
            hook,
            job_id,
            f"s3://{s3_bucket}/out/",
            destination_conn_id=s3_conn_id,
            options=DownloadOptions(sha256=True, max_attempts=2, retry_wait=0.05),
        )
    assert _objects(moto_s3, s3_bucket) == {}
    assert _pending_uploads(moto_s3, s3_bucket) == []


def test_truncated_then_complete_in_s3(
    emulator: Any, hook: Any, runs: Runs, moto_s3: Any, s3_conn_id: str, s3_bucket: str
) -> None:
    job_id = runs.finished(blocks=BLOCKS3, result_bytes=10 * MiB)
    emulator.add_fault(FaultRule(route=STORAGE_ROUTE, kind="truncate", fraction=0.9, count=1, filename="block_03_*"))
    landed = land_results(hook, job_id, f"s3://{s3_bucket}/out/", destination_conn_id=s3_conn_id, options=FAST)
    final = next(f for f in landed if f.block_number == 3)
    assert final.attempts == 2
    body = _objects(moto_s3, s3_bucket)["out/block_03_find_email.csv"]
    assert hashlib.sha256(body).hexdigest() == emulator.file_sha256(job_id, final.filename)
    assert _pending_uploads(moto_s3, s3_bucket) == []


def test_missing_bucket_fails_clearly_before_downloading(emulator: Any, hook: Any, runs: Runs, s3_conn_id: str) -> None:
    job_id = runs.finished(blocks=BLOCKS3)
    with pytest.raises(SixtyfourDestinationError) as caught:
        land_results(hook, job_id, "s3://no-such-bucket/out/", destination_conn_id=s3_conn_id, options=FAST)
    assert "the destination bucket 'no-such-bucket' does not exist" in str(caught.value)
    assert s3_conn_id in str(caught.value)
    assert emulator.stats()["requests"].get(STORAGE_ROUTE) is None
