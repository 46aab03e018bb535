"""The async transport: one ``httpx.AsyncClient`` (one connection pool) sending calls through the shared retry loop."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_sixtyfour.hooks.retrying import Answer, LogLike, Outcome, adrive, call_steps, no_answer
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings, user_agent
from airflow_provider_sixtyfour.hooks.uploads import MultipartBody
from airflow_provider_sixtyfour.protocol.endpoints import API_KEY_HEADER, ApiCall
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

#: Connections kept open to the API by one async hook. Calls beyond this wait for a free connection
#: (without a time limit: each connection's own timeout frees it), they do not fail.
MAX_CONNECTIONS = 20


class AsyncTransport:
    """Sends API calls with ``httpx.AsyncClient``, retrying per the connection's policy.

    :param settings: where the API is, the key, the timeout and the retry policy.
    :param log: where retries are logged.
    """

    def __init__(self, settings: ConnectionSettings, log: LogLike) -> None:
        import httpx

        self.settings = settings
        self.log = log
        self.gate = RateLimitGate()
        self.client: httpx.AsyncClient = httpx.AsyncClient(
            headers={API_KEY_HEADER: settings.api_key, "User-Agent": user_agent()},
            timeout=httpx.Timeout(settings.timeout, pool=None),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
            follow_redirects=False,
        )

    async def request(self, call: ApiCall[T], policy: RetryPolicy | None = None) -> T:
        """Send ``call`` (with retries per ``policy``, default the connection's) and return its parsed answer."""

        async def send(_attempt: int) -> Outcome:
            return await self._send(call)

        return await adrive(call_steps(call, policy or self.settings.retry, self.gate, self.log), send)

    async def _send(self, call: ApiCall[Any]) -> Outcome:
        import httpx

        headers = dict(call.headers)
        kwargs: dict[str, Any] = {}
        if call.upload is not None:
            body = MultipartBody(call.upload)
            headers.update(body.headers())
            kwargs["content"] = body.achunks()
        elif call.json_body is not None:
            kwargs["json"] = call.json_body
        try:
            response = await self.client.request(
                call.method, self.settings.url(call.path), params=dict(call.params), headers=headers, **kwargs
            )
            return Answer(response.status_code, response.content, response.headers, response.reason_phrase)
        except httpx.TransportError as err:
            return no_answer(err)

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self.client.aclose()
