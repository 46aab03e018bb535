"""The webhook receiver's tests: a fake Airflow API, the receiver's site, and signed deliveries.

Their fixtures are in ``tests/webhooks/conftest.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from secret_audit import register_secret

from helpers.keys import WEBHOOK_SECRET

AIRFLOW_USER = "sixtyfour-receiver"
AIRFLOW_PASSWORD = "airflow-password-0123456789"
HOOKED_WORKFLOWS = ("wf-test-hooked", "wf-test-hooked-2")


@dataclass
class FakeAirflow:
    """Airflow 3's ``/auth/token``, ``GET /api/v2/assets`` and ``POST /api/v2/assets/events``, recorded.

    ``fail_events`` answers that many event posts 503 first; ``down`` answers everything 503; ``slow``
    waits that many seconds before answering an event post; ``expire_after`` makes a token invalid after
    that many uses (a JWT that expired).
    """

    assets: dict[int, str] = field(
        default_factory=lambda: {n: f"sixtyfour://workflows/{wf}" for n, wf in enumerate(HOOKED_WORKFLOWS, 1)}
    )
    events: list[dict[str, Any]] = field(default_factory=list)
    logins: int = 0
    fail_events: int = 0
    down: bool = False
    slow: float = 0.0
    expire_after: int | None = None
    url: str = ""
    _tokens: dict[str, int] = field(default_factory=dict)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/auth/token", self._token)
        app.router.add_get("/api/v2/assets", self._assets)
        app.router.add_post("/api/v2/assets/events", self._event)
        return app

    def _authorized(self, request: web.Request) -> bool:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token not in self._tokens:
            return False
        self._tokens[token] += 1
        return self.expire_after is None or self._tokens[token] <= self.expire_after

    async def _token(self, request: web.Request) -> web.Response:
        if self.down:
            return web.json_response({"detail": "down"}, status=503)
        body = await request.json()
        if body != {"username": AIRFLOW_USER, "password": AIRFLOW_PASSWORD}:
            return web.json_response({"detail": "Invalid credentials"}, status=401)
        self.logins += 1
        token = f"jwt-{self.logins}-abcdefghijklmnop"
        register_secret(token, "a fake Airflow JWT")
        self._tokens[token] = 0
        return web.json_response({"access_token": token}, status=201)

    async def _assets(self, request: web.Request) -> web.Response:
        if self.down:
            return web.json_response({"detail": "down"}, status=503)
        if not self._authorized(request):
            return web.json_response({"detail": "Not authenticated"}, status=401)
        pattern = request.query.get("uri_pattern", "")
        found = [{"id": n, "uri": uri, "name": uri} for n, uri in self.assets.items() if pattern in uri]
        return web.json_response({"assets": found, "total_entries": len(found)})

    async def _event(self, request: web.Request) -> web.Response:
        if self.slow:
            await asyncio.sleep(self.slow)
        if self.down:
            return web.json_response({"detail": "down"}, status=503)
        if not self._authorized(request):
            return web.json_response({"detail": "Not authenticated"}, status=401)
        if self.fail_events > 0:
            self.fail_events -= 1
            return web.json_response({"detail": "database is locked"}, status=503)
        body = await request.json()
        if set(body) - {"asset_id", "extra"} or body["asset_id"] not in self.assets:
            return web.json_response({"detail": f"Asset with ID: `{body.get('asset_id')}` was not found"}, status=404)
        event = {"id": len(self.events) + 1, "asset_id": body["asset_id"], "extra": {**body["extra"]}}
        self.events.append(event)
        return web.json_response(event)


async def start_site(app: web.Application) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on a free 127.0.0.1 port; returns the runner and the base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, f"http://127.0.0.1:{port}"


StartReceiver = Callable[..., Awaitable[str]]


def signed(envelope: dict[str, Any], secret: str = WEBHOOK_SECRET, attempt: int = 1) -> tuple[bytes, dict[str, str]]:
    """A delivery as Sixtyfour sends it, signed here with hmac (independently of the code under test)."""
    import hashlib
    import hmac
    import time

    body = json.dumps(envelope).encode()
    t = int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "Sixtyfour-Signature": f"t={t},v1={digest}",
        "Sixtyfour-Event-Id": envelope["event_id"],
        "Sixtyfour-Event-Type": f"outgoing_webhook.{envelope.get('status')}",
        "Sixtyfour-Delivery-Attempt": str(attempt),
    }
    return body, headers
