"""``sixtyfour://workflows/<workflow_id>`` Asset URIs: built in one place, checked by the scheme's handler."""

from __future__ import annotations

import os
import subprocess
import sys
from urllib.parse import urlsplit

import pytest

from airflow_provider_sixtyfour import get_provider_info
from airflow_provider_sixtyfour.assets import sanitize_uri, workflow_asset_uri


def test_workflow_asset_uri_quotes_the_id() -> None:
    assert workflow_asset_uri("wf-leads") == "sixtyfour://workflows/wf-leads"
    assert workflow_asset_uri(" wf:a~1 ") == "sixtyfour://workflows/wf%3Aa~1"
    with pytest.raises(ValueError, match="workflow_id is empty"):
        workflow_asset_uri(" ")
    # The same check as every other workflow id (protocol.validate): an id the API cannot run has no Asset.
    with pytest.raises(ValueError, match="'wf a/b' is not a Sixtyfour workflow id"):
        workflow_asset_uri("wf a/b")


@pytest.mark.parametrize(
    "uri",
    [
        "sixtyfour://workflow/wf-a",
        "sixtyfour://workflows/",
        "sixtyfour://workflows/a/b",
        "sixtyfour://workflows/a?x=1",
        "sixtyfour://workflows/a%2Fb",
        "sixtyfour://workflows/..",
    ],
)
def test_the_handler_refuses_other_shapes_saying_which_one_to_use(uri: str) -> None:
    with pytest.raises(ValueError, match=r"use sixtyfour://workflows/<workflow_id>"):
        sanitize_uri(urlsplit(uri))


@pytest.mark.parametrize("workflow_id", ["wf-a", "wf:a~1"])
def test_the_handler_keeps_a_good_uri(workflow_id: str) -> None:
    parts = urlsplit(workflow_asset_uri(workflow_id))
    assert sanitize_uri(parts) == parts


def test_provider_info_registers_the_scheme_for_assets_and_datasets() -> None:
    info = get_provider_info()
    expected = [{"schemes": ["sixtyfour"], "handler": "airflow_provider_sixtyfour.assets.sanitize_uri"}]
    assert info["asset-uris"] == expected
    assert info["dataset-uris"] == expected


# In a fresh interpreter, as a DAG processor parses a DAG file: Airflow loads the handler through the
# provider's entry point, accepts a good URI and refuses a misspelt one.
CHECK = """
import sys
try:
    from airflow.sdk import Asset
except ImportError:
    from airflow.datasets import Dataset as Asset
print(Asset("sixtyfour://workflows/wf-a").uri)
try:
    Asset("sixtyfour://workflow/wf-a")
except ValueError as err:
    print("refused:", err)
"""


def test_airflow_applies_the_handler_when_an_asset_is_made() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHECK],
        capture_output=True,
        text=True,
        timeout=120,
        # Airflow 2 only warns on a refused URI unless told to be strict; Airflow 3 always refuses.
        env={**os.environ, "AIRFLOW__CORE__STRICT_DATASET_URI_VALIDATION": "True"},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "sixtyfour://workflows/wf-a"
    assert lines[1].startswith("refused:")
    assert "use sixtyfour://workflows/<workflow_id>" in lines[1]
