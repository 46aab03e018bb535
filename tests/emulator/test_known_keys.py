"""A config key the emulator does not know is an error naming it and the known ones, at every level."""

from __future__ import annotations

import pytest

from airflow_provider_sixtyfour.emulator.config import config_from_mapping
from airflow_provider_sixtyfour.emulator.known_keys import check_known_keys


def test_known_keys_pass_and_unknown_ones_are_named() -> None:
    check_known_keys({"a": 1}, ["a", "b"], "thing")
    with pytest.raises(ValueError, match=r"^unknown thing setting\(s\) \['c', 'd'\]; known: \['a', 'b'\]$"):
        check_known_keys({"a": 1, "d": 2, "c": 3}, ("b", "a"), "thing")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"api_key": "k"}, r"^unknown emulator setting\(s\) \['api_key'\]; known: \[.*'api_keys'.*\]$"),
        (
            {"workflows": [{"workflow_id": "wf", "duration": 3}]},
            r"^unknown workflow setting\(s\) \['duration'\]; known: \[.*'duration_seconds'.*\]$",
        ),
        (
            {"faults": [{"route": "/workflows", "kind": "status", "code": 503}]},
            r"^unknown fault setting\(s\) \['code'\]; known: \[.*'status'.*\]$",
        ),
    ],
    ids=["emulator", "workflow", "fault"],
)
def test_every_config_level_rejects_unknown_keys(config: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config_from_mapping(config)
