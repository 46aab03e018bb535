"""Every check of a value given to the provider, in one place; no I/O.

Job ids, workflow ids, ``specs_override``, webhook payloads, result formats, intervals, timeouts and
deadlines, concurrency and file names: the request builders (:mod:`~airflow_provider_sixtyfour.protocol.endpoints`),
the operators, the sensor, the triggers and the landing code all take them through these functions.
Each returns the value in the form the caller keeps (stripped, a float, a plain dict) or raises
:class:`SixtyfourInputError` with a message that names the parameter and says how to fix it.
"""

from __future__ import annotations

import json
import math
import time
import unicodedata
import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from airflow_provider_sixtyfour.protocol.errors import SixtyfourInputError
from airflow_provider_sixtyfour.protocol.ids import EXAMPLE_RUN_ID, WORKFLOW_ID_MAX_LENGTH, is_run_id, is_workflow_id
from airflow_provider_sixtyfour.protocol.statuses import LIST_STATUS_FILTERS, status_text

#: A webhook workflow's rows: one dict, or a list of dicts (one per row).
Payload = list[dict[str, Any]] | dict[str, Any]

#: The longest wait (a timeout, a poll interval) any operator, sensor or trigger accepts: 366 days.
MAX_WAIT_SECONDS = 366 * 24 * 3600.0
#: Clock skew allowed between the worker that computed a deadline and the triggerer that checks it.
CLOCK_SKEW_SECONDS = 24 * 3600.0

LIST_LIMIT_MAX = 500
#: The ``format`` values of download links; every one but ``csv`` needs a run started with ``save_json=true``.
RESULT_FORMATS = ("csv", "json", "ndjson")
SAVE_JSON_FORMATS = frozenset({"json", "ndjson"})

#: Marks this provider's temporary files (``.partial-<id>``); no result file may look like one.
PARTIAL_MARKER = ".partial-"


# -- ids ------------------------------------------------------------------------------------------


def job_id(value: object) -> str:
    """The run id, stripped of surrounding whitespace; raises for anything but a run id (a UUID)."""
    text = str(value) if isinstance(value, uuid.UUID) else value.strip() if isinstance(value, str) else ""
    if not is_run_id(text):
        raise SixtyfourInputError(
            f"job_id {value!r} is not a Sixtyfour run id: run ids are UUIDs such as "
            f"'{EXAMPLE_RUN_ID}' (the run operator pushes it to XCom as 'job_id')"
        )
    return text


def job_id_given(value: object) -> str:
    """A job id a trigger was given, stripped: any non-empty string (the API itself judges it when polled)."""
    if not isinstance(value, str) or not value.strip():
        raise SixtyfourInputError(f"job_id must be the run's id (a non-empty string), got {value!r}")
    return value.strip()


def workflow_id(value: object) -> str:
    """The workflow id, stripped; raises when it is empty or not one path segment."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise SixtyfourInputError("workflow_id is empty: pass the id of a workflow from the Sixtyfour app")
    if not is_workflow_id(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise SixtyfourInputError(
            f"workflow_id {shown!r} is not a Sixtyfour workflow id: ids are letters and digits, then also '-', "
            f"'_', '.', ':' or '~' (at most {WORKFLOW_ID_MAX_LENGTH} characters), never '/', '%', '?', '#', "
            "whitespace or '..'; copy the id from the workflow's page in the Sixtyfour app"
        )
    return text


def workflow_ids(value: object) -> tuple[str, ...]:
    """One workflow id or a non-empty list of them, each checked by :func:`workflow_id`, without repeats."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise SixtyfourInputError(f"workflow_id must be a workflow id or a non-empty list of them, got {value!r}")
    ids: list[str] = []
    for item in items:
        checked = workflow_id(item)
        if checked not in ids:
            ids.append(checked)
    return tuple(ids)


def conn_id(value: object, name: str = "sixtyfour_conn_id") -> str:
    """An Airflow connection id: a non-empty string."""
    if not isinstance(value, str) or not value:
        raise SixtyfourInputError(f"{name} must be a connection id, got {value!r}")
    return value


# -- what a run is started with -------------------------------------------------------------------


def specs_override(value: object) -> dict[str, Any] | None:
    """``specs_override`` as a plain dict, or None; raises when it is not a JSON-serialisable dict."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SixtyfourInputError(f"specs_override must be a dict of block settings, got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise SixtyfourInputError(f"specs_override is not JSON-serialisable ({err})") from None
    return dict(value)


def webhook_payload(payload: object) -> Payload:
    """A webhook payload that is a dict or a list of dicts and JSON-serialisable, as plain dicts."""
    if isinstance(payload, Mapping):
        rows: list[Any] = [payload]
    elif isinstance(payload, (list, tuple)):
        rows = list(payload)
    else:
        raise SixtyfourInputError(
            f"webhook_payload must be a dict or a list of dicts (one per row), got {type(payload).__name__}"
        )
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise SixtyfourInputError(
                f"webhook_payload row {index} is a {type(row).__name__}, not a dict: each row must be a "
                "dict of column name to value"
            )
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise SixtyfourInputError(
            f"webhook_payload is not JSON-serialisable ({err}): convert dates, decimals and other "
            "objects to strings or numbers first"
        ) from None
    if isinstance(payload, Mapping):
        return dict(payload)
    return [dict(row) for row in rows]


def task_payload(value: object) -> Payload | None:
    """A task's ``webhook_payload`` (see :func:`webhook_payload`), or None; a JSON string (what a Jinja
    template renders when the DAG does not render native objects) is parsed first, and an empty list
    (no rows to enrich) is refused."""
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError:
            raise SixtyfourInputError(
                "webhook_payload is a string that is not JSON: pass a dict or a list of dicts, or an XComArg "
                "(e.g. upstream_task.output) instead of a Jinja string"
            ) from None
    if isinstance(value, (list, tuple)) and not value:
        raise SixtyfourInputError("webhook_payload is an empty list: there are no rows to enrich")
    return webhook_payload(value)


def flag(value: object, name: str) -> bool:
    """A yes/no parameter as a bool: a bool, or the ``"True"``/``"False"`` a template renders; raises otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise SixtyfourInputError(f"{name} must be True or False (a template may render 'True' or 'False'), got {value!r}")


# -- listing runs and their results ---------------------------------------------------------------


def list_status(value: object) -> str:
    """A ``GET /workflows/runs`` status filter (a string or a ``RunStatus``), in the API's spelling."""
    text = status_text(value)
    if text not in LIST_STATUS_FILTERS:
        raise SixtyfourInputError(
            f"status {value!r} is not a filter the API knows; use one of {sorted(LIST_STATUS_FILTERS)}"
        )
    return text


def list_limit(value: object) -> int:
    """How many runs one ``GET /workflows/runs`` asks for: a whole number from 1 to :data:`LIST_LIMIT_MAX`."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= LIST_LIMIT_MAX:
        raise SixtyfourInputError(f"limit must be an integer from 1 to {LIST_LIMIT_MAX}, got {value!r}")
    return value


def result_format(value: object, name: str = "format") -> str:
    """``value`` if download links take it; raises naming the choices otherwise."""
    if not isinstance(value, str) or value not in RESULT_FORMATS:
        raise SixtyfourInputError(f"{name} must be one of {list(RESULT_FORMATS)}, got {value!r}")
    return value


def download_format(value: object, save_json: bool) -> str:
    """``download_to``'s format: one download links take, and saved by the run (json and ndjson need save_json)."""
    format = result_format(value, "download_format")
    if format in SAVE_JSON_FORMATS and not save_json:
        raise SixtyfourInputError(
            f"download_format={format!r} needs save_json=True (the run keeps JSON results only when "
            "started with it): pass save_json=True, or download_format='csv'"
        )
    return format


def file_name_problem(name: str) -> str | None:
    """What keeps ``name`` (a result file's name, folders already cut) from being a file's name, or None."""
    if name in ("", ".", ".."):
        return "the API gave a filename that cannot be a file name"
    bad = next((ch for ch in name if unicodedata.category(ch) in ("Cc", "Cs")), None)
    if bad is not None:
        if bad == "\x00":
            what = "a NUL byte"
        elif unicodedata.category(bad) == "Cs":
            what = "a lone surrogate (not valid Unicode)"
        else:
            what = f"the control character {bad!r}"
        return f"the API gave a filename with {what}, which cannot be part of a file name"
    if name.startswith(".") and PARTIAL_MARKER in name:
        return "the API gave a filename that looks like this provider's temporary files"
    return None


# -- numbers: concurrency, intervals, timeouts, deadlines -----------------------------------------


def is_real(value: object) -> bool:
    """True for a finite int or float (never a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole_number(value: object, name: str, low: int, high: int | None = None, bounds: str = "") -> int:
    """A whole number from ``low`` to ``high`` (no upper bound when None), e.g. a concurrency or attempt count.

    :param bounds: how the message words the range, instead of ``a whole number >= low [and <= high]``.
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = bounds or f"a whole number >= {low}" + ("" if high is None else f" and <= {high}")
        raise SixtyfourInputError(f"{name} must be {bounds}, got {value!r}")
    return value


def seconds(value: object, name: str, *, zero: bool, most: float, most_words: str = "") -> float:
    """A finite number of seconds, above 0 (or from 0 when ``zero``) and at most ``most``, e.g. an option's
    timeout or a signature's tolerance; NaN and infinity, which compare false to every bound, are refused."""
    low_ok = is_real(value) and (value >= 0 if zero else value > 0)  # type: ignore[operator]
    if not low_ok or value > most:  # type: ignore[operator]
        bound = ">= 0" if zero else "> 0"
        raise SixtyfourInputError(
            f"{name} must be a finite number of seconds {bound} and at most {most:.0f}{most_words}, got {value!r}"
        )
    return float(value)  # type: ignore[arg-type]


def timeout_seconds(timeout: object, name: str = "timeout") -> float | None:
    """``timeout`` (seconds or a ``timedelta``) as positive seconds up to :data:`MAX_WAIT_SECONDS`; None: no limit."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        seconds = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        try:
            seconds = float(timeout)
        except OverflowError:  # an int too large for a float
            seconds = math.inf
    else:
        raise SixtyfourInputError(f"{name} must be a number of seconds or a timedelta, got {type(timeout).__name__}")
    if math.isnan(seconds) or seconds <= 0:
        raise SixtyfourInputError(f"{name} must be positive, got {timeout!r}")
    if seconds > MAX_WAIT_SECONDS:
        raise SixtyfourInputError(f"{name} must be at most {MAX_WAIT_SECONDS:.0f} seconds (366 days), got {timeout!r}")
    return seconds


def interval(value: object, name: str = "poll_interval", *, bounded: bool = True) -> float:
    """A trigger's interval: a positive number of seconds (not a ``timedelta``), at most
    :data:`MAX_WAIT_SECONDS` when ``bounded``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise SixtyfourInputError(f"{name} must be a positive number of seconds, got {value!r}")
    if bounded:
        seconds = timeout_seconds(value, name)
        assert seconds is not None  # a positive number is never "no limit"
        return seconds
    return float(value)


def deadline(value: object, now: float | None = None) -> float | None:
    """``value`` (epoch seconds, or None) as a float; raises unless it is finite, after 1970 and at
    most :data:`MAX_WAIT_SECONDS` (plus :data:`CLOCK_SKEW_SECONDS`) from ``now``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SixtyfourInputError(
            f"deadline must be an absolute time in epoch seconds (e.g. time.time() + 3600) or None, got {value!r}"
        )
    latest = (time.time() if now is None else now) + MAX_WAIT_SECONDS + CLOCK_SKEW_SECONDS
    if not 0 <= value <= latest:
        raise SixtyfourInputError(
            f"deadline {value!r} is out of range: it must be after 1970 and at most 366 days from now "
            f"(epoch seconds up to {latest:.0f})"
        )
    return float(value)
