"""Signed download URLs for the emulator's own file storage (HMAC, expiring like the vendor's)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import quote, urlencode

from airflow_provider_sixtyfour.emulator.faults import STORAGE_ROUTE


class UrlSigner:
    """Signs ``/_storage/{bucket}/{job_id}/{filename}`` paths with an expiry, and checks them.

    :param secret: the HMAC key; a random one per server by default, so links from one emulator
        instance do not work on another.
    """

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def _signature(self, bucket: str, job_id: str, filename: str, expires_ms: int) -> str:
        message = f"{bucket}/{job_id}/{filename}\n{expires_ms}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, base_url: str, bucket: str, job_id: str, filename: str, ttl_seconds: float) -> str:
        """An absolute URL for the file, valid for ``ttl_seconds`` from now."""
        expires_ms = int((time.time() + ttl_seconds) * 1000)
        path = STORAGE_ROUTE.format(
            bucket=quote(bucket, safe=""), job_id=quote(job_id, safe=""), filename=quote(filename, safe="")
        )
        query = urlencode({"expires": expires_ms, "signature": self._signature(bucket, job_id, filename, expires_ms)})
        return f"{base_url}{path}?{query}"

    def check(self, bucket: str, job_id: str, filename: str, expires: str | None, signature: str | None) -> str | None:
        """None when the signature is valid and unexpired, else the storage's error code."""
        if not expires or not signature:
            return "AccessDenied"
        try:
            expires_ms = int(expires)
        except ValueError:
            return "AccessDenied"
        expected = self._signature(bucket, job_id, filename, expires_ms)
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch"
        if time.time() * 1000 >= expires_ms:
            return "Expired"
        return None
