"""HTTP plumbing shared by the REST stores: client life cycle, retries, error mapping."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import quote, unquote

import httpx

from modelworks.config import ENV_TOKEN
from modelworks.errors import (
    InvalidInputError,
    ModelworksError,
    StoreUnavailableError,
    error_from_payload,
)

__all__ = ["API_PREFIX", "CHUNK_SIZE", "RETRY_DELAYS", "Http", "items", "query", "seg"]

API_PREFIX = "/api/v1"
CHUNK_SIZE = 1 << 20

#: Seconds to wait before each retry of a request that could not be sent.
RETRY_DELAYS = (0.1, 0.4)
_ERROR_CODE_HEADER = "x-modelworks-error-code"
_ERROR_MESSAGE_HEADER = "x-modelworks-error-message"
_JSON_HEADERS = {"Content-Type": "application/json"}


def seg(value: object) -> str:
    """``value`` as one path segment that the server decodes back exactly."""
    text = quote(str(value), safe="")
    return text.replace(".", "%2E") if text in (".", "..") else text


def query(**values: Any) -> dict[str, Any]:
    """Query parameters without the ``None`` ones (httpx would send them as empty strings)."""
    return {k: v for k, v in values.items() if v is not None}


def _user_agent() -> str:
    try:
        from importlib.metadata import version

        return f"modelworks/{version('modelworks')} httpx/{httpx.__version__}"
    except Exception:  # noqa: BLE001 - only a header
        return f"modelworks httpx/{httpx.__version__}"


class Http:
    """The HTTP plumbing both stores share: client life cycle, retries and error mapping."""

    def __init__(self, base_url: str, token: str | None, *, read_timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token if token is not None else os.environ.get(ENV_TOKEN) or None
        self.read_timeout = read_timeout
        self._client: httpx.Client | None = None
        self._pid = 0
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        """The keep-alive client of this process (a forked child makes its own)."""
        client = self._client
        if client is None or self._pid != os.getpid():
            if self._pid and self._pid != os.getpid():
                self._lock = threading.Lock()  # the parent's may have been held at fork time
            with self._lock:
                if self._client is None or self._pid != os.getpid():
                    headers = {"User-Agent": _user_agent()}
                    if self.token:
                        headers["Authorization"] = f"Bearer {self.token}"
                    self._client = httpx.Client(
                        headers=headers,
                        timeout=httpx.Timeout(self.read_timeout, connect=5.0, pool=60.0),
                        limits=httpx.Limits(
                            max_connections=64, max_keepalive_connections=16, keepalive_expiry=20
                        ),
                        follow_redirects=False,
                    )
                    self._pid = os.getpid()
                client = self._client
        return client

    def close(self) -> None:
        with self._lock:
            if self._client is not None and self._pid == os.getpid():
                self._client.close()
            self._client = None

    def unreachable(self, e: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(
            f"Cannot reach the modelworks server at {self.base_url}: {e or type(e).__name__}; "
            "is `modelworks server` running?",
            url=self.base_url,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content: Iterable[bytes] | bytes | None = None,
        headers: dict[str, str] | None = None,
        idempotent: bool = False,
        stream: bool = False,
        ok: Sequence[int] = (),
    ) -> httpx.Response:
        """Send a request to ``/api/v1<path>``; raise the server's error for a 4xx/5xx.

        ``body`` is sent as JSON (NaN allowed); ``ok`` lists error statuses to return instead
        of raising. With ``stream`` the caller must close the response.
        """
        url = f"{self.base_url}{API_PREFIX}{path}"
        if body is not None:
            content = json.dumps(body, allow_nan=True, separators=(",", ":")).encode("utf-8")
            headers = {**_JSON_HEADERS, **(headers or {})}
        last: Exception | None = None
        for attempt in range(len(RETRY_DELAYS) + 1):
            if attempt:
                time.sleep(RETRY_DELAYS[attempt - 1])
            try:
                request = self.client.build_request(
                    method, url, params=params, content=content, headers=headers
                )
                response = self.client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:  # nothing was sent
                last = e
                continue
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
                if not idempotent or not isinstance(content, bytes | None):
                    raise self.unreachable(e) from e
                last = e
                continue
            except httpx.TimeoutException as e:
                raise StoreUnavailableError(
                    f"The modelworks server at {self.base_url} did not answer {method} {path} "
                    f"in time ({type(e).__name__}). It may be overloaded; try again.",
                    url=self.base_url,
                ) from e
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
                raise InvalidInputError(
                    f"{self.base_url!r} is not a usable server URL ({e}); give one such as "
                    "http://host:8080."
                ) from e
            except httpx.TransportError as e:
                raise self.unreachable(e) from e
            if response.status_code >= 400 and response.status_code not in ok:
                raise self._error(method, response)
            return response
        assert last is not None
        raise self.unreachable(last) from last

    def _error(self, method: str, response: httpx.Response) -> ModelworksError:
        """The exception the server described in ``response`` (which is read and closed)."""
        status = response.status_code
        try:
            response.read()
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        payload: dict[str, Any] = {}
        if method != "HEAD" and response.content:
            try:
                loaded = response.json()
            except ValueError:
                loaded = None
            if isinstance(loaded, dict):
                payload = loaded
        if not payload.get("error_code") and response.headers.get(_ERROR_CODE_HEADER):
            payload = {
                "error_code": response.headers[_ERROR_CODE_HEADER],
                "message": unquote(response.headers.get(_ERROR_MESSAGE_HEADER, "")),
            }
        if not payload.get("error_code"):
            text = response.text[:300].strip() if method != "HEAD" else ""
            where = f"{method} {response.request.url}"
            if status in (502, 503, 504):
                return StoreUnavailableError(
                    f"Cannot reach the modelworks server at {self.base_url}: HTTP {status} from "
                    f"{where}; is `modelworks server` running behind the proxy?",
                    url=self.base_url,
                )
            payload = {"message": f"HTTP {status} from {where}" + (f": {text}" if text else "")}
        return error_from_payload(status, payload)

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`request` and decode the JSON answer."""
        return self.request(method, path, **kwargs).json()


def items(data: dict[str, Any]) -> list[Any]:
    items: list[Any] = data["items"]
    return items
