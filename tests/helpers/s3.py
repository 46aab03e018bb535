"""S3 through a moto server (fixture ``moto_s3``)."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass
class MotoS3:
    """A moto S3 server on 127.0.0.1 and an ``aws`` connection that points at it."""

    endpoint_url: str
    conn_id: str = "aws_moto"

    def connection_json(self) -> str:
        return json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": self.endpoint_url, "region_name": "us-east-1"},
            }
        )

    def client(self) -> object:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


def forget_object_stores() -> None:
    """Empty Airflow's per-process cache of object stores (``airflow.sdk.io.store`` / ``airflow.io.store``)."""
    import importlib

    for module in ("airflow.sdk.io.store", "airflow.io.store"):
        try:
            importlib.import_module(module)._STORE_CACHE.clear()
        except (ImportError, AttributeError):
            continue
