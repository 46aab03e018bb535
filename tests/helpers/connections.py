"""Airflow connections to the servers tests start, as ``AIRFLOW_CONN_<ID>`` values."""

from __future__ import annotations

import json

from helpers.keys import TEST_API_KEY

#: The connection id of the hostile server (``tests/hostile.py``; fixture ``hostile_api``).
HOSTILE_CONN_ID = "sixtyfour_hostile"


def sixtyfour_connection_uri_json(base_url: str, api_key: str = TEST_API_KEY, **extra: object) -> str:
    """The JSON form of a ``sixtyfour`` connection, for ``AIRFLOW_CONN_<ID>`` variables.

    Tests use short retry waits so that fault injection does not slow the suite.
    """
    extras: dict[str, object] = {"backoff_base": 0.05, "timeout": 10}
    extras.update(extra)
    return json.dumps({"conn_type": "sixtyfour", "host": base_url, "password": api_key, "extra": extras})
