"""Result files: links per block, signed URLs that expire, CSV content, exact sizes, JSON results."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from helpers.keys import TEST_API_KEY

from airflow_provider_sixtyfour.emulator import EmulatorServer, WorkflowSpec
from emulator.helpers import FAST, Api

LEADS = [
    {"name": "Ada Lovelace", "company": "Analytical Engines", "domain": "analytical.example"},
    {"name": "Grace Hopper", "company": "Navy, Compilers & Co", "domain": "cobol.example"},
    {"name": 'Alan "Prof" Turing', "company": "Bletchley\nPark", "domain": "enigma.example"},
]


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(), newline="")))


def _finished_run(api: Api, workflow_id: str = FAST, payload: object = LEADS, **kwargs: object) -> str:
    job_id = api.start_ok(workflow_id, payload, **kwargs)
    api.wait_terminal(job_id)
    return job_id


def test_links_are_empty_until_the_run_completes(api: Api) -> None:
    job_id = api.start_ok(FAST, LEADS)
    assert api.links(job_id) == []
    api.wait_terminal(job_id)
    assert len(api.links(job_id)) == 3


def test_one_file_per_block_and_content_that_enriches_the_input(api: Api, server: EmulatorServer) -> None:
    job_id = _finished_run(api)
    links = api.links(job_id)
    assert [link["block_number"] for link in links] == [1, 2, 3]
    assert [link["filename"] for link in links] == [
        "block_01_webhook.csv",
        "block_02_enrich_lead.csv",
        "block_03_find_email.csv",
    ]
    previous_header: list[str] = []
    for link in links:
        assert link["download_expires_in_seconds"] == 900
        assert link["content_type"] == "text/csv"
        # Signed URLs are served by the emulator itself and need no API key.
        answer = requests.get(link["download_url"], timeout=30)
        assert answer.status_code == 200
        assert answer.headers["Content-Type"].startswith("text/csv")
        assert int(answer.headers["Content-Length"]) == len(answer.content) == link["file_size"]
        rows = _rows(answer.content)
        header, body = rows[0], rows[1:]
        assert len(body) == link["row_count"] == len(LEADS)
        assert header[:3] == ["name", "company", "domain"]
        assert set(previous_header) <= set(header)
        previous_header = header
        assert [row[:3] for row in body] == [[lead["name"], lead["company"], lead["domain"]] for lead in LEADS]
        assert all(len(row) == len(header) for row in body)
        assert server.file_sha256(job_id, link["filename"]) == hashlib.sha256(answer.content).hexdigest()
    final = _rows(requests.get(links[-1]["download_url"], timeout=30).content)
    assert {"title", "linkedin_url", "lead_summary", "email", "email_status"} <= set(final[0])
    emails = [row[final[0].index("email")] for row in final[1:]]
    assert emails[0].endswith("@analytical.example")


def test_csv_cells_hold_newlines_quotes_and_commas(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(workflows=[WorkflowSpec(workflow_id="wf-many", duration_seconds=0.2, rows_out=30)])
    api = Api(server.base_url)
    job_id = _finished_run(api, "wf-many", [{"first_name": "Ada", "company": "Acme"}])
    content = requests.get(api.links(job_id)[-1]["download_url"], timeout=30).content
    rows = _rows(content)
    assert len(rows) == 31
    cells = [cell for row in rows[1:] for cell in row]
    assert any("\n" in cell for cell in cells)
    assert any('"' in cell for cell in cells)
    assert any("," in cell for cell in cells)
    assert content.count(b"\n") > len(rows)  # quoted newlines: more lines than records


def test_content_is_deterministic_per_run(api: Api, server: EmulatorServer) -> None:
    one = _finished_run(api)
    two = _finished_run(api)
    name = "block_03_find_email.csv"
    first = requests.get(api.links(one)[-1]["download_url"], timeout=30).content
    again = requests.get(api.links(one)[-1]["download_url"], timeout=30).content
    other = requests.get(api.links(two)[-1]["download_url"], timeout=30).content
    assert first == again == server.file_bytes(one, name)
    assert first != other
    assert server.file_sha256(one, name) != server.file_sha256(two, name)


def test_links_expire(make_server: Callable[..., EmulatorServer]) -> None:
    server = make_server(link_ttl_seconds=0.5)
    api = Api(server.base_url)
    job_id = _finished_run(api)
    link = api.links(job_id)[-1]
    assert link["download_expires_in_seconds"] == 1
    assert requests.get(link["download_url"], timeout=30).status_code == 200
    time.sleep(0.6)
    expired = requests.get(link["download_url"], timeout=30)
    assert expired.status_code == 403
    assert b"Request has expired" in expired.content
    assert expired.headers["Content-Type"].startswith("application/xml")
    fresh = api.links(job_id)[-1]
    assert requests.get(fresh["download_url"], timeout=30).status_code == 200


def test_bad_signatures_are_refused(api: Api) -> None:
    job_id = _finished_run(api)
    url = api.links(job_id)[-1]["download_url"]
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}"
    tampered = dict(query, signature="0" * 64)
    later = dict(query, expires=str(int(query["expires"]) + 60_000))
    other_file = parts.path.replace("block_03_find_email", "block_02_enrich_lead")
    for bad in (
        f"{base}{parts.path}?{urlencode(tampered)}",
        f"{base}{parts.path}?{urlencode(later)}",
        f"{base}{other_file}?{parts.query}",
        f"{base}{parts.path}",
    ):
        answer = requests.get(bad, timeout=30)
        assert answer.status_code == 403, bad
        assert b"<Error>" in answer.content


def test_json_results_need_save_json(api: Api) -> None:
    plain = _finished_run(api)
    answer = api.get(f"/workflows/runs/{plain}/results/download-links", params={"format": "json"})
    assert answer.status_code == 400
    assert "save_json" in answer.json()["detail"]
    bad_format = api.get(f"/workflows/runs/{plain}/results/download-links", params={"format": "xml"})
    assert bad_format.status_code == 422

    with_json = _finished_run(api, save_json=True)
    json_links = api.links(with_json, "json")
    csv_links = api.links(with_json, "csv")
    assert [link["filename"] for link in json_links] == [
        link["filename"].replace(".csv", ".json") for link in csv_links
    ]
    data = json.loads(requests.get(json_links[-1]["download_url"], timeout=30).content)
    csv_rows = _rows(requests.get(csv_links[-1]["download_url"], timeout=30).content)
    assert data == [dict(zip(csv_rows[0], row, strict=True)) for row in csv_rows[1:]]
    assert json_links[-1]["content_type"] == "application/json"


def test_ndjson_results_hold_one_record_a_line_and_need_save_json(api: Api) -> None:
    plain = _finished_run(api)
    answer = api.get(f"/workflows/runs/{plain}/results/download-links", params={"format": "ndjson"})
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("NDJSON results are not available for this run")
    assert "save_json=true" in answer.json()["detail"]

    job_id = _finished_run(api, save_json=True)
    links = api.links(job_id, "ndjson")
    csv_links = api.links(job_id, "csv")
    assert [link["filename"] for link in links] == [link["filename"].replace(".csv", ".ndjson") for link in csv_links]
    for link, csv_link in zip(links, csv_links, strict=True):
        body = requests.get(link["download_url"], timeout=30).content
        assert link["content_type"] == "application/x-ndjson"
        assert link["file_size"] == len(body)
        lines = body.decode().split("\n")
        # Every record on its own line (a newline inside a value is escaped), the last one ended too.
        assert lines[-1] == ""
        csv_rows = _rows(requests.get(csv_link["download_url"], timeout=30).content)
        assert [json.loads(line) for line in lines[:-1]] == [
            dict(zip(csv_rows[0], r, strict=True)) for r in csv_rows[1:]
        ]
        assert link["row_count"] == len(lines) - 1 == len(LEADS)


def test_small_files_carry_inline_results(api: Api) -> None:
    job_id = _finished_run(api)
    link = api.links(job_id)[-1]
    content = _rows(requests.get(link["download_url"], timeout=30).content)
    assert link["results"] == [dict(zip(content[0], row, strict=True)) for row in content[1:]]


@pytest.mark.parametrize("target", [2_000, 2_001, 1_000_003, 3 * 2**20 + 17])
def test_result_bytes_gives_an_exact_size(make_server: Callable[..., EmulatorServer], target: int) -> None:
    spec = WorkflowSpec(
        workflow_id="wf-sized", blocks=("webhook", "enrich_lead"), duration_seconds=0.1, result_bytes=target
    )
    server = make_server(workflows=[spec])
    api = Api(server.base_url)
    job_id = _finished_run(api, "wf-sized")
    for link in api.links(job_id):
        answer = requests.get(link["download_url"], timeout=60)
        assert len(answer.content) == link["file_size"] == int(answer.headers["Content-Length"]) == target
        rows = _rows(answer.content)
        assert len(rows) - 1 == link["row_count"] > len(LEADS)
        assert [row[:3] for row in rows[1:4]] == [[lead["name"], lead["company"], lead["domain"]] for lead in LEADS]
        assert all(len(row) == len(rows[0]) for row in rows)
        assert hashlib.sha256(answer.content).hexdigest() == server.file_sha256(job_id, link["filename"])


def test_result_bytes_below_the_natural_size_serves_the_natural_rows(
    make_server: Callable[..., EmulatorServer],
) -> None:
    spec = WorkflowSpec(workflow_id="wf-tiny", blocks=("webhook",), duration_seconds=0.05, result_bytes=10)
    server = make_server(workflows=[spec])
    api = Api(server.base_url)
    job_id = _finished_run(api, "wf-tiny")
    (link,) = api.links(job_id)
    assert link["row_count"] == len(LEADS)
    assert link["file_size"] > 10


def test_large_file_streams_with_a_matching_checksum(make_server: Callable[..., EmulatorServer]) -> None:
    size = 48 * 2**20 + 5
    spec = WorkflowSpec(workflow_id="wf-big", blocks=("webhook",), duration_seconds=0.05, result_bytes=size)
    server = make_server(workflows=[spec])
    api = Api(server.base_url)
    job_id = _finished_run(api, "wf-big", [{"name": "Ada"}])
    (link,) = api.links(job_id)
    assert link["results"] is None  # too big to inline
    digest = hashlib.sha256()
    received = 0
    with requests.get(link["download_url"], stream=True, timeout=60) as answer:
        assert int(answer.headers["Content-Length"]) == size
        for chunk in answer.iter_content(1 << 20):
            digest.update(chunk)
            received += len(chunk)
    assert received == size
    assert digest.hexdigest() == server.file_sha256(job_id, link["filename"])


def test_range_and_head_requests(make_server: Callable[..., EmulatorServer]) -> None:
    spec = WorkflowSpec(workflow_id="wf-ranged", blocks=("webhook",), duration_seconds=0.05, result_bytes=300_000)
    server = make_server(workflows=[spec])
    api = Api(server.base_url)
    job_id = _finished_run(api, "wf-ranged")
    url = api.links(job_id)[0]["download_url"]
    full = requests.get(url, timeout=30).content
    for header, expected in (
        ("bytes=100-199", full[100:200]),
        ("bytes=299000-", full[299_000:]),
        ("bytes=-50", full[-50:]),
        ("bytes=5-5", full[5:6]),
    ):
        part = requests.get(url, headers={"Range": header}, timeout=30)
        assert part.status_code == 206
        assert part.content == expected
        assert part.headers["Content-Range"].endswith(f"/{len(full)}")
    assert requests.get(url, headers={"Range": "bytes=400000-"}, timeout=30).status_code == 416
    head = requests.head(url, timeout=30)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(full)
    assert head.content == b""


def test_read_csv_results_echo_the_uploaded_rows(make_server: Callable[..., EmulatorServer]) -> None:
    from emulator.helpers import CSV_FLOW, TEST_WORKFLOWS

    server = make_server(workflows=TEST_WORKFLOWS)
    api = Api(server.base_url, api_key=TEST_API_KEY)
    upload = b'company,domain\nAcme,acme.example\n"Globex, Inc.",globex.example\n'
    answer = api.post("/storage/csv/upload", files={"file": ("companies.csv", upload, "text/csv")})
    assert answer.status_code == 200, answer.text
    handle = answer.json()["handle_id"]
    job_id = _finished_run(api, CSV_FLOW, None, specs_override={"resource_handle_id": handle})
    final = _rows(requests.get(api.links(job_id)[-1]["download_url"], timeout=30).content)
    assert final[0][:2] == ["company", "domain"]
    assert [row[:2] for row in final[1:]] == [["Acme", "acme.example"], ["Globex, Inc.", "globex.example"]]
    assert {"industry", "employee_count", "company_summary", "email"} <= set(final[0])
