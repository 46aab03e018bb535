"""The few calls of Airflow 3's REST API the receiver makes: a JWT from ``POST /auth/token``, the asset's id
from ``GET /api/v2/assets``, and ``POST /api/v2/assets/events``. Every answer is checked before use."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

TOKEN_PATH = "/auth/token"  # noqa: S105 (a path, not a password)
ASSETS_PATH = "/api/v2/assets"
ASSET_EVENTS_PATH = "/api/v2/assets/events"
_DETAIL_CHARS = 200


class AirflowError(Exception):
    """Airflow did not accept the event; the message says why (never a credential).

    :param kind: ``unavailable`` (no answer, 5xx), ``auth`` (credentials refused), ``unknown_asset`` (no
        DAG schedules on the asset), ``not_found`` (404) or ``rejected`` (another 4xx, or an answer that is
        not what Airflow sends).
    """

    def __init__(self, kind: str, message: str) -> None:
        self.kind = kind
        super().__init__(message)


class AirflowAssets:
    """Creates asset events through Airflow's REST API, with one HTTP session.

    :param base_url: the API server's base URL (no trailing slash).
    :param username: the user for ``POST /auth/token``.
    :param password: that user's password.
    :param token: a ready JWT, used instead of logging in.
    :param timeout: seconds for each request.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self._static_token = token
        self._token: str | None = token
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._asset_ids: dict[str, int] = {}
        self._login_lock = asyncio.Lock()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def create_event(self, uri: str, extra: dict[str, Any]) -> int:
        """Create an asset event on ``uri``; returns its id. Raises :class:`AirflowError`."""
        asset_id = await self.asset_id(uri)
        try:
            body = await self._call("POST", ASSET_EVENTS_PATH, json={"asset_id": asset_id, "extra": extra})
        except AirflowError as err:
            if err.kind != "not_found":
                raise
            # The asset was removed and made again under another id since it was cached: look it up anew.
            self._asset_ids.pop(uri, None)
            asset_id = await self.asset_id(uri)
            body = await self._call("POST", ASSET_EVENTS_PATH, json={"asset_id": asset_id, "extra": extra})
        event_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(event_id, int):
            raise AirflowError("rejected", f"POST {ASSET_EVENTS_PATH} answered without an asset event id")
        return event_id

    async def asset_id(self, uri: str) -> int:
        """The id of the asset with exactly ``uri`` (cached); :class:`AirflowError` ``unknown_asset`` if none."""
        cached = self._asset_ids.get(uri)
        if cached is not None:
            return cached
        body = await self._call("GET", ASSETS_PATH, params={"uri_pattern": uri, "limit": "100"})
        assets = body.get("assets") if isinstance(body, dict) else None
        if not isinstance(assets, list):
            raise AirflowError("rejected", f"GET {ASSETS_PATH} answered without an assets list")
        for asset in assets:
            if isinstance(asset, dict) and asset.get("uri") == uri and isinstance(asset.get("id"), int):
                self._asset_ids[uri] = int(asset["id"])
                return int(asset["id"])
        raise AirflowError(
            "unknown_asset",
            f"Airflow knows no asset {uri}: deploy a DAG scheduled on Asset({uri!r}) (the delivery is retried "
            "by Sixtyfour until then)",
        )

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        for attempt in range(2):
            token = await self._current_token(refresh=attempt > 0)
            status, body = await self._request(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if status == 401 and self._static_token is None and attempt == 0:
                continue  # the JWT expired: log in again, once
            return _checked(method, path, status, body)
        raise AssertionError("unreachable")

    async def _current_token(self, refresh: bool) -> str:
        if self._static_token is not None:
            return self._static_token
        async with self._login_lock:
            if self._token is None or refresh:
                self._token = await self._login()
            return self._token

    async def _login(self) -> str:
        status, body = await self._request(
            "POST", TOKEN_PATH, json={"username": self._username, "password": self._password}
        )
        if status in (401, 403):
            raise AirflowError("auth", f"POST {TOKEN_PATH} refused the receiver's Airflow username and password")
        _checked("POST", TOKEN_PATH, status, body)
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise AirflowError("rejected", f"POST {TOKEN_PATH} answered without an access_token")
        return token

    async def _request(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        try:
            async with self._http().request(method, self.base_url + path, allow_redirects=False, **kwargs) as answer:
                raw = await answer.read()
                status = answer.status
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
            raise AirflowError(
                "unavailable", f"{method} {path} got no answer from Airflow: {type(err).__name__}"
            ) from None
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw[:_DETAIL_CHARS].decode("utf-8", "replace")
        return status, body


def _checked(method: str, path: str, status: int, body: Any) -> Any:
    if 200 <= status < 300:
        return body
    detail = body.get("detail") if isinstance(body, dict) else body
    text = str(detail)[:_DETAIL_CHARS]
    if status in (401, 403):
        raise AirflowError("auth", f"{method} {path} answered {status}: the receiver's Airflow user may not: {text}")
    if status >= 500 or status == 429:
        raise AirflowError("unavailable", f"{method} {path} answered {status}: {text}")
    if status == 404:
        raise AirflowError("not_found", f"{method} {path} answered 404: {text}")
    raise AirflowError("rejected", f"{method} {path} answered {status}: {text}")
