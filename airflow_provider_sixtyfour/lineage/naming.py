"""Dataset names by the OpenLineage naming spec, from storage URIs; pure, no I/O.

``s3://bucket/key`` is namespace ``s3://bucket`` and name ``key``, likewise ``gs://`` (``gcs://`` is
spelled ``gs://``); a local file is namespace ``file`` (``file://HOST`` when the URI names a host) and
its absolute path as the name, the way Airflow's own file asset converter names it, so that the files
our operators land join the datasets other tasks read through ``ObjectStoragePath``. Any other store
is ``SCHEME://AUTHORITY`` and the path. A connection id or credentials written into a URI
(``s3://conn@bucket/key``) and any query string are dropped: they never reach a lineage event.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

#: Object stores whose authority is a bucket: the name is the key, without a leading slash.
BUCKET_SCHEMES = frozenset({"s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "az", "adl", "oss", "r2"})
_SCHEME_ALIASES = {"gcs": "gs", "local": "file"}


@dataclass(frozen=True)
class DatasetName:
    """An OpenLineage dataset's ``namespace`` and ``name``, and the store's scheme (``s3``, ``file``...)."""

    namespace: str
    name: str
    scheme: str


def dataset_name(uri: str) -> DatasetName:
    """The OpenLineage name of the file at ``uri`` (a URI, or a local path).

    :raises ValueError: when ``uri`` names no file (empty, no bucket, no path).
    """
    text = uri.strip() if isinstance(uri, str) else ""
    if not text:
        raise ValueError(f"cannot name a dataset after {uri!r}: pass a URI such as 's3://bucket/key'")
    if "://" not in text:
        return _local(os.path.abspath(os.path.expanduser(text)), "")
    parts = urlsplit(text)
    scheme = _SCHEME_ALIASES.get(parts.scheme.lower(), parts.scheme.lower())
    host = parts.hostname or ""  # drops user:password@ and a connection id written as user
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = unquote(parts.path)
    if scheme == "file":
        return _local(path, host)
    key = path.lstrip("/")
    if not host or (scheme in BUCKET_SCHEMES and not key):
        raise ValueError(f"cannot name a dataset after {_safe(text)!r}: it names no bucket and key")
    return DatasetName(namespace=f"{scheme}://{host}", name=key if scheme in BUCKET_SCHEMES else path, scheme=scheme)


def uri_of(value: Any) -> str | None:
    """``value`` (a URI string or an ``ObjectStoragePath``) as a plain URI, or None when it is neither."""
    if isinstance(value, str):
        return value.strip() or None
    protocol, path = getattr(value, "protocol", None), getattr(value, "path", None)
    if isinstance(path, str) and path:
        scheme = protocol[0] if isinstance(protocol, (tuple, list)) and protocol else protocol
        scheme = str(scheme or "file")
        if scheme in ("file", "local"):
            return "file://" + os.path.abspath(path)
        return f"{scheme}://{path.lstrip('/')}"
    return None


def _local(path: str, host: str) -> DatasetName:
    if not path or path == "/":
        raise ValueError("cannot name a dataset after a file URI without a path")
    return DatasetName(namespace=f"file://{host}" if host else "file", name=posixpath.normpath(path), scheme="file")


def _safe(text: str) -> str:
    """``text`` without any query string or user info, for messages."""
    parts = urlsplit(text)
    return f"{parts.scheme}://{parts.hostname or ''}{parts.path}"
