"""The emulator's own control routes under ``/_emulator/`` (no API key; for tests, demos and benchmarks).

``GET /_emulator/stats`` (read-only counters), ``GET /_emulator/health``, ``GET|POST|DELETE
/_emulator/faults``, ``GET|POST /_emulator/workflows``, ``POST /_emulator/reset``, ``POST
/_emulator/rate-limit`` (``{"per_minute": N or null, "window_seconds": S}``), ``POST /_emulator/credits``
(``{"balance": X or null, "org_id": optional}``), ``GET /_emulator/runs/{job_id}``, and
``GET /_emulator/files/{job_id}/{filename}/sha256``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from aiohttp import web

from airflow_provider_sixtyfour.emulator.core import EmulatorCore
from airflow_provider_sixtyfour.emulator.faults import FaultRule
from airflow_provider_sixtyfour.emulator.specs import WorkflowSpec

ADMIN_PREFIX = "/_emulator"


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


async def _body(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.body_exists else {}
    except ValueError:
        raise web.HTTPBadRequest(text='{"detail": "body is not JSON"}', content_type="application/json") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text='{"detail": "body must be a JSON object"}', content_type="application/json")
    return data


def _bad(message: str) -> web.Response:
    return _json({"detail": message}, 400)


class _Created(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


C = TypeVar("C", bound=_Created)


async def _create(request: web.Request, parse: Callable[[dict[str, Any]], C], add: Callable[[C], None]) -> web.Response:
    """Read a ``from_dict`` body (400 naming what is wrong), ``add`` it, and answer it back with 201."""
    try:
        item = parse(await _body(request))
    except (TypeError, ValueError) as err:
        return _bad(str(err))
    add(item)
    return _json(item.to_dict(), 201)


def add_admin_routes(app: web.Application, core: EmulatorCore) -> None:
    """Register the ``/_emulator/`` routes of ``core`` on ``app``."""

    async def stats(request: web.Request) -> web.Response:
        return _json(core.stats_dict())

    async def health(request: web.Request) -> web.Response:
        return _json({"ok": True})

    async def list_faults(request: web.Request) -> web.Response:
        return _json(core.faults.describe())

    async def add_fault(request: web.Request) -> web.Response:
        return await _create(request, FaultRule.from_dict, core.add_fault)

    async def clear_faults(request: web.Request) -> web.Response:
        core.faults.clear()
        return _json({"cleared": True})

    async def list_workflows(request: web.Request) -> web.Response:
        return _json([spec.to_dict() for spec in core.store.workflows.values()])

    async def add_workflow(request: web.Request) -> web.Response:
        return await _create(request, WorkflowSpec.from_dict, core.add_workflow)

    async def reset(request: web.Request) -> web.Response:
        core.reset()
        return _json({"reset": True})

    async def rate_limit(request: web.Request) -> web.Response:
        body = await _body(request)
        per = body.get("per_minute")
        window = body.get("window_seconds")
        try:
            core.set_rate_limit(int(per) if per else None, float(window) if window else None)
        except (TypeError, ValueError) as err:
            return _bad(str(err))
        return _json(core.stats_dict()["rate_limit"])

    async def credits(request: web.Request) -> web.Response:
        body = await _body(request)
        balance = body.get("balance")
        try:
            core.set_credit_balance(None if balance is None else float(balance), body.get("org_id"))
        except (TypeError, ValueError) as err:
            return _bad(str(err))
        return _json(core.stats_dict()["credit_balance"])

    async def get_run(request: web.Request) -> web.Response:
        run = core.store.runs.get(request.match_info["job_id"])
        if run is None:
            return _json({"detail": "Run not found"}, 404)
        return _json(core.store.snapshot(run, time.time()))

    async def file_sha256(request: web.Request) -> web.Response:
        file = core.result_file(request.match_info["job_id"], request.match_info["filename"])
        if file is None:
            return _json({"detail": "File not found"}, 404)
        digest = await asyncio.get_running_loop().run_in_executor(None, core.files.sha256, file)
        return _json({"sha256": digest})

    # The emulator's own routes, not in the OpenAPI document (``emulator.routes`` has the API's).
    admin_routes: tuple[tuple[str, str, Callable[[web.Request], Awaitable[web.Response]]], ...] = (
        ("GET", "/stats", stats),
        ("GET", "/health", health),
        ("GET", "/faults", list_faults),
        ("POST", "/faults", add_fault),
        ("DELETE", "/faults", clear_faults),
        ("GET", "/workflows", list_workflows),
        ("POST", "/workflows", add_workflow),
        ("POST", "/reset", reset),
        ("POST", "/rate-limit", rate_limit),
        ("POST", "/credits", credits),
        ("GET", "/runs/{job_id}", get_run),
        ("GET", "/files/{job_id}/{filename}/sha256", file_sha256),
    )
    for method, path, handler in admin_routes:
        app.router.add_route(method, ADMIN_PREFIX + path, handler)
