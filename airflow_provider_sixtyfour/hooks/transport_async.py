"""The async transport: one ``httpx.AsyncClient`` (one connection pool) sending calls through the shared retry loop.

Redirects are never followed, each answer must arrive whole within the connection's ``timeout``, bodies
are read up to the answer cap (and large ones parsed off the event loop, see
:func:`~airflow_provider_sixtyfour.hooks.retrying.adrive`), and every exception of ``httpx`` becomes
an outcome of the retry loop, so the caller only ever sees the provider's own errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_sixtyfour.hooks import outcomes
from airflow_provider_sixtyfour.hooks.outcomes import Outcome
from airflow_provider_sixtyfour.hooks.retrying import LogLike, Transport, WaitLimits, adrive
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings, user_agent
from airflow_provider_sixtyfour.hooks.uploads import MultipartBody
from airflow_provider_sixtyfour.protocol.endpoints import API_KEY_HEADER, ApiCall
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")

#: Connections kept open to the API by one async hook. Calls beyond this wait for a free connection
#: (without a time limit: each connection's own timeout frees it), they do not fail.
MAX_CONNECTIONS = 20


#: Exceptions that mean the request cannot be sent as built (never worth a retry).
_REQUEST_PROBLEMS = (ValueError, TypeError, OverflowError)


def _leaves(error: BaseException) -> list[BaseException]:
    """The exceptions inside an exception group (nested ones too), or ``[error]`` for any other."""
    inner = getattr(error, "exceptions", None)
    if not isinstance(inner, (list, tuple)) or not inner:
        return [error]
    return [leaf for item in inner for leaf in _leaves(item)]


async def _within(answer: Awaitable[Outcome], seconds: float) -> Outcome:
    """``await answer``, ending it after ``seconds`` with ``TimeoutError`` (the whole answer, not each read)."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # Python 3.10
        return await asyncio.wait_for(answer, seconds)
    async with timeout(seconds):
        return await answer


class _Redirected(Exception):
    """Raised by the response hook at a 3xx: the answer as it came, before httpx reads its Location."""

    def __init__(self, answer: outcomes.Answer) -> None:
        super().__init__(answer.status_code)
        self.answer = answer


async def _stop_at_redirect(response: httpx.Response) -> None:
    # httpx builds the next request from Location even when not following, and a garbled Location
    # raises there; the provider only needs the status and the headers of a redirect.
    if 300 <= response.status_code < 400:
        raise _Redirected(outcomes.Answer(response.status_code, b"", response.headers, response.reason_phrase))


class AsyncTransport(Transport):
    """Sends API calls with ``httpx.AsyncClient``, retrying per the connection's policy.

    :param settings: where the API is, the key, the timeout and the retry policy.
    :param log: where retries are logged.
    :param limits: what cuts the retry waits short (a deadline); none by default. Cancelling the
        awaiting task ends any wait at once.
    """

    def __init__(self, settings: ConnectionSettings, log: LogLike, limits: WaitLimits | None = None) -> None:
        import httpx

        super().__init__(settings, log, limits)
        self.client: httpx.AsyncClient = httpx.AsyncClient(
            headers={API_KEY_HEADER: settings.api_key, "User-Agent": user_agent()},
            timeout=httpx.Timeout(settings.timeout, pool=None),
            limits=httpx.Limits(max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_CONNECTIONS),
            follow_redirects=False,
            event_hooks={"response": [_stop_at_redirect]},
        )

    async def request(self, call: ApiCall[T], policy: RetryPolicy | None = None) -> T:
        """Send ``call`` (with retries per ``policy``, default the connection's) and return its parsed answer."""

        async def send(_attempt: int) -> Outcome:
            return await self._send(call)

        return await adrive(self.steps(call, policy), send)

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
        timeout = self.settings.timeout
        try:
            request = self.client.build_request(
                call.method, self.settings.url(call.path), params=dict(call.params), headers=headers, **kwargs
            )
            return await _within(self._exchange(request), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            return outcomes.NoAnswer(f"no whole answer within {timeout:g} s (the connection's timeout)")
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as err:
            return outcomes.Unsendable(f"{type(err).__name__}: {err}")
        except (httpx.TransportError, httpx.HTTPError, httpx.StreamError, OSError) as err:
            return outcomes.no_answer(err)
        except Exception as err:
            leaves = _leaves(err)
            if all(isinstance(leaf, _REQUEST_PROBLEMS) for leaf in leaves):
                # e.g. a header value that is not ASCII, a port out of range
                return outcomes.Unsendable("; ".join(f"{type(leaf).__name__}: {leaf}" for leaf in leaves))
            return outcomes.no_answer(leaves[0])

    async def _exchange(self, request: httpx.Request) -> Outcome:
        """Send ``request`` and read its answer, up to the answer cap."""
        import httpx

        try:
            response = await self.client.send(request, stream=True)
        except _Redirected as redirect:
            return redirect.answer
        try:
            collected = outcomes.BodyCollector(response.headers)
            if collected.wants_more:
                async for chunk in response.aiter_bytes():
                    if not collected.add(chunk):
                        break
        except httpx.DecodingError as err:
            return outcomes.Unreadable(
                f"its body could not be decoded (Content-Encoding {response.headers.get('Content-Encoding')}): {err}"
            )
        finally:
            await response.aclose()
        return collected.answer(response.status_code, response.headers, response.reason_phrase)

    async def aclose(self) -> None:
        """Close the client and its connections."""
        await self.client.aclose()
