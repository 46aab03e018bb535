"""The blocking transport: one pooled ``requests.Session`` that sends API calls through the shared retry loop."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_sixtyfour.hooks.retrying import Answer, LogLike, Outcome, call_steps, drive, no_answer
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings, user_agent
from airflow_provider_sixtyfour.hooks.uploads import MultipartBody
from airflow_provider_sixtyfour.protocol.endpoints import API_KEY_HEADER, ApiCall
from airflow_provider_sixtyfour.protocol.retry import RateLimitGate, RetryPolicy

if TYPE_CHECKING:
    import requests

T = TypeVar("T")


class SyncTransport:
    """Sends API calls with ``requests``, retrying per the connection's policy.

    :param settings: where the API is, the key, the timeout and the retry policy.
    :param log: where retries are logged (the hook's logger, so they reach the task log).
    """

    def __init__(self, settings: ConnectionSettings, log: LogLike) -> None:
        self.settings = settings
        self.log = log
        self.gate = RateLimitGate()
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use, with the key and User-Agent set."""
        with self._lock:
            if self._session is None:
                import requests

                session = requests.Session()
                session.headers.update({API_KEY_HEADER: self.settings.api_key, "User-Agent": user_agent()})
                self._session = session
            return self._session

    def request(self, call: ApiCall[T], policy: RetryPolicy | None = None) -> T:
        """Send ``call`` (with retries per ``policy``, default the connection's) and return its parsed answer."""
        steps = call_steps(call, policy or self.settings.retry, self.gate, self.log)
        return drive(steps, lambda _attempt: self._send(call))

    def _send(self, call: ApiCall[Any]) -> Outcome:
        import requests

        headers = dict(call.headers)
        kwargs: dict[str, Any] = {}
        if call.upload is not None:
            body = MultipartBody(call.upload)
            headers.update(body.headers())
            kwargs["data"] = body
        elif call.json_body is not None:
            kwargs["json"] = call.json_body
        try:
            response = self.session.request(
                call.method,
                self.settings.url(call.path),
                params=dict(call.params),
                headers=headers,
                timeout=self.settings.timeout,
                **kwargs,
            )
            return Answer(response.status_code, response.content, response.headers, response.reason or "")
        except (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError) as err:
            return no_answer(err)

    def close(self) -> None:
        """Close the session's pooled connections."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
