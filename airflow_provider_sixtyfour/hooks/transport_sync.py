"""The blocking transport: one pooled ``requests.Session`` that sends API calls through the shared retry loop.

Redirects are never followed, each answer must arrive whole within the connection's ``timeout`` (see
:mod:`~airflow_provider_sixtyfour.hooks.answer_deadline`), bodies are read up to the answer cap, and
every exception of ``requests`` becomes an outcome of the retry loop, so the caller only ever sees the
provider's own errors.
"""

from __future__ import annotations

import http.client
import threading
import time
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_sixtyfour.hooks import outcomes
from airflow_provider_sixtyfour.hooks.outcomes import Outcome
from airflow_provider_sixtyfour.hooks.retrying import LogLike, Transport, WaitLimits, drive
from airflow_provider_sixtyfour.hooks.settings import ConnectionSettings, user_agent
from airflow_provider_sixtyfour.hooks.uploads import MultipartBody
from airflow_provider_sixtyfour.protocol.endpoints import API_KEY_HEADER, ApiCall
from airflow_provider_sixtyfour.protocol.retry import RetryPolicy

if TYPE_CHECKING:
    import requests

T = TypeVar("T")

#: Bytes asked of each read of an answer body.
READ_CHUNK_BYTES = 64 * 1024


class SyncTransport(Transport):
    """Sends API calls with ``requests``, retrying per the connection's policy.

    :param settings: where the API is, the key, the timeout and the retry policy.
    :param log: where retries are logged (the hook's logger, so they reach the task log).
    :param limits: what cuts the retry waits short (a stop event, a deadline); none by default.
    """

    def __init__(self, settings: ConnectionSettings, log: LogLike, limits: WaitLimits | None = None) -> None:
        super().__init__(settings, log, limits)
        self._session: requests.Session | None = None
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use, with the key and User-Agent set."""
        with self._lock:
            if self._session is None:
                from airflow_provider_sixtyfour.hooks.answer_deadline import DeadlineAdapter, NoRedirectSession

                session = NoRedirectSession()
                session.headers.update({API_KEY_HEADER: self.settings.api_key, "User-Agent": user_agent()})
                for prefix in ("http://", "https://"):
                    session.mount(prefix, DeadlineAdapter())
                self._session = session
            return self._session

    def request(self, call: ApiCall[T], policy: RetryPolicy | None = None) -> T:
        """Send ``call`` (with retries per ``policy``, default the connection's) and return its parsed answer."""
        return drive(self.steps(call, policy), lambda _attempt: self._send(call), self.limits.sleep)

    def _send(self, call: ApiCall[Any]) -> Outcome:
        import requests

        from airflow_provider_sixtyfour.hooks.answer_deadline import answer_deadline

        headers = dict(call.headers)
        kwargs: dict[str, Any] = {}
        if call.upload is not None:
            body = MultipartBody(call.upload)
            headers.update(body.headers())
            kwargs["data"] = body
        elif call.json_body is not None:
            kwargs["json"] = call.json_body
        timeout = self.settings.timeout
        encoding: str | None = None
        began = time.monotonic()
        try:
            with answer_deadline(timeout):
                response = self.session.request(
                    call.method,
                    self.settings.url(call.path),
                    params=dict(call.params),
                    headers=headers,
                    timeout=timeout,
                    allow_redirects=False,
                    stream=True,
                    **kwargs,
                )
                encoding = response.headers.get("Content-Encoding")
                try:
                    collected = outcomes.BodyCollector(response.headers)
                    if collected.wants_more:
                        for chunk in response.iter_content(READ_CHUNK_BYTES):
                            if not collected.add(chunk):
                                break
                finally:
                    response.close()
            return collected.answer(response.status_code, response.headers, response.reason or "")
        except requests.exceptions.ContentDecodingError as err:
            return outcomes.Unreadable(f"its body could not be decoded (Content-Encoding {encoding}): {err}")
        except (
            requests.exceptions.InvalidURL,
            requests.exceptions.InvalidSchema,
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidHeader,
            requests.exceptions.InvalidJSONError,
        ) as err:
            return outcomes.Unsendable(f"{type(err).__name__}: {err}")
        except (requests.RequestException, http.client.HTTPException, OSError) as err:
            if time.monotonic() - began >= timeout:
                return outcomes.NoAnswer(f"no whole answer within {timeout:g} s (the connection's timeout)")
            return outcomes.no_answer(err)
        except (ValueError, TypeError, OverflowError) as err:  # e.g. a header value http.client refuses
            return outcomes.Unsendable(f"{type(err).__name__}: {err}")

    def close(self) -> None:
        """Close the session's pooled connections."""
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None
