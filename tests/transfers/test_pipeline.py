"""The hashing pipeline: same digest as hashlib whether threaded or not, with a bounded buffer pool."""

from __future__ import annotations

import hashlib
import os

import pytest

from airflow_provider_sixtyfour.transfers.pipeline import HashingPipeline


@pytest.mark.parametrize("threaded", [True, False])
def test_digest_matches_hashlib(threaded: bool) -> None:
    data = os.urandom(3 * 65536 + 123)
    pipe = HashingPipeline(65536, depth=2, threaded=threaded)
    written = bytearray()
    try:
        offset = 0
        while offset < len(data):
            buffer = pipe.take()
            piece = data[offset : offset + len(buffer)]
            buffer[: len(piece)] = piece
            pipe.submit(buffer, len(piece))
            written += buffer[: len(piece)]
            offset += len(piece)
        digest = pipe.finish()
    finally:
        pipe.close()
    assert bytes(written) == data
    assert digest == hashlib.sha256(data).hexdigest()


def test_disabled_returns_none_and_recycles_one_buffer() -> None:
    pipe = HashingPipeline(1024, depth=4, enabled=False)
    first = pipe.take()
    pipe.submit(first, 10)
    assert pipe.take() is first
    pipe.give_back(first)
    assert pipe.finish() is None


def test_close_is_idempotent() -> None:
    pipe = HashingPipeline(1024)
    pipe.close()
    pipe.close()
    assert pipe.finish() == hashlib.sha256(b"").hexdigest()
