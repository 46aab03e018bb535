"""``POST /storage/csv/upload``: streamed to disk, validated, and feeding ``read_csv`` runs."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from airflow_provider_sixtyfour.emulator import EmulatorServer
from airflow_provider_sixtyfour.protocol.endpoints import UPLOAD_FIELD_NAME, UPLOAD_HANDLE_KEY
from emulator.helpers import CSV_FLOW, Api


def test_upload_answers_a_handle_that_a_read_csv_run_uses(api: Api, server: EmulatorServer) -> None:
    content = b"company,domain\n" + b"".join(b"Company %d,c%d.example\n" % (i, i) for i in range(250))
    answer = api.post("/storage/csv/upload", files={UPLOAD_FIELD_NAME: ("companies.csv", content, "text/csv")})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body[UPLOAD_HANDLE_KEY].startswith("csv_")
    assert body["row_count"] == 250
    assert body["columns"] == ["company", "domain"]
    assert body["file_size"] == len(content)
    job_id = api.start_ok(CSV_FLOW, specs_override={"resource_handle_id": body[UPLOAD_HANDLE_KEY]})
    snapshot = server.get_run(job_id)
    assert snapshot is not None
    assert snapshot["input_rows"] == 250
    assert snapshot["input_columns"] == ["company", "domain"]
    live = api.wait_terminal(job_id)
    assert all(block["total_count"] == 250 for block in live["blocks"])
    assert api.links(job_id)[-1]["row_count"] == 250
    assert server.stats()["uploads"] == 1


def test_upload_is_per_organisation(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(api_keys={"key-a": "org-a", "key-b": "org-b"})
    a, b = Api(server.base_url, api_key="key-a"), Api(server.base_url, api_key="key-b")
    handle = a.post("/storage/csv/upload", files={"file": ("x.csv", b"name\nAda\n", "text/csv")}).json()["handle_id"]
    assert a.start(CSV_FLOW, specs_override={"resource_handle_id": handle}).status_code == 200
    assert b.start(CSV_FLOW, specs_override={"resource_handle_id": handle}).status_code == 400


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ({"file": ("empty.csv", b"", "text/csv")}, 400, "empty"),
        ({"file": ("header.csv", b"name,company\n", "text/csv")}, 400, "no rows"),
        ({"file": ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")}, 400, "CSV"),
        ({"file": ("data.csv", b"a,b\n\x00\x01\x02,\xff\xfe\n", "text/csv")}, 400, "binary"),
        ({"document": ("data.csv", b"a\n1\n", "text/csv")}, 422, None),
    ],
)
def test_bad_uploads_are_refused(
    api: Api, files: dict[str, tuple[str, bytes, str]], status: int, message: str | None
) -> None:
    answer = api.post("/storage/csv/upload", files=files)
    assert answer.status_code == status, answer.text
    if message is None:
        assert answer.json()["detail"][0]["loc"] == ["body", UPLOAD_FIELD_NAME]
    else:
        assert message in answer.json()["detail"]


def test_upload_that_is_not_multipart_is_422(api: Api) -> None:
    answer = api.post("/storage/csv/upload", data=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"})
    assert answer.status_code == 422
