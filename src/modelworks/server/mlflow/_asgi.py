"""The ASGI layer of the MLflow API: route, authenticate, parse, call, answer.

:class:`MlflowMiddleware` sits in front of the FastAPI app and takes every request under
``/api/<2|3>.0/mlflow/``, ``/api/2.0/mlflow-artifacts/`` and their ``/ajax-api/`` twins; all
other requests go on to the app untouched. It does the few things FastAPI would do, directly,
because ``mlflow.log_metric`` is one HTTP call per value and the client's own overhead is
already most of a call's time:

- route on ``(method, path)`` with the table of ``routes.py`` (imported on the first MLflow
  request, so the handlers cost nothing at server start);
- authenticate with the server's tokens (``Authorization: Bearer``, i.e.
  ``MLFLOW_TRACKING_TOKEN``; Basic with the token as password also works) through the app's
  :class:`~modelworks.server.auth.TokenAuthenticator`, with the role each route declares;
- read the JSON body or the query string into :class:`~._request.Fields`;
- run the handler in a worker thread (handlers call the blocking stores);
- answer JSON, or MLflow's error shape ``{"error_code", "message"}`` with MLflow's status.
"""

from __future__ import annotations

import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelworks.errors import ModelworksError
from modelworks.server.auth import _secret_from_header
from modelworks.server.mlflow._errors import MlflowError, translate
from modelworks.server.tokens import role_allows

if TYPE_CHECKING:
    from modelworks.entities import Token
    from modelworks.server.mlflow.routes import Route

__all__ = ["MlflowMiddleware", "send_json"]

logger = logging.getLogger("modelworks.server")

#: ``/api/2.0/mlflow/runs/get`` -> ("mlflow", "/runs/get"); also ``/ajax-api/`` and 3.0.
_PATH_RE = re.compile(r"^/(?:ajax-)?api/[23]\.0/(mlflow|mlflow-artifacts)(/.*)?$")
_DRAIN_LIMIT = 64 * 1024 * 1024
_MAX_JSON_BODY = 64 * 1024 * 1024
_HOW_TO = (
    "Set MLFLOW_TRACKING_TOKEN to a modelworks API token (an admin makes one with "
    "`modelworks token create --name NAME --role reader|writer|admin`)."
)


def _headers(extra: dict[str, str] | None = None) -> list[tuple[bytes, bytes]]:
    out = [(b"content-type", b"application/json")]
    for key, value in (extra or {}).items():
        out.append((key.lower().encode("latin-1"), value.encode("latin-1")))
    return out


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


async def send_json(
    send: Send, payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> None:
    await send_body(send, encode(payload), status, headers)


async def send_body(
    send: Send, body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> None:
    raw = _headers(headers)
    raw.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: MlflowError, method: str = "GET") -> None:
    headers = {"WWW-Authenticate": 'Bearer realm="modelworks"'} if error.status == 401 else None
    if method == "HEAD":
        raw = _headers(headers)
        await send({"type": "http.response.start", "status": error.status, "headers": raw})
        await send({"type": "http.response.body", "body": b""})
        return
    await send_json(send, error.payload(), error.status, headers)


async def read_body(receive: Receive, limit: int = _MAX_JSON_BODY) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise MlflowError(
                "INVALID_PARAMETER_VALUE",
                f"The request body is larger than {limit // (1024 * 1024)} MiB.",
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def drain(receive: Receive) -> None:
    """Read (and drop) a refused request's body so that the client reads the answer."""
    seen = 0
    while seen <= _DRAIN_LIMIT:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def authenticate(scope: Scope, needed: str) -> Token | None:
    """The caller's token if it may do what needs ``needed``; raises MLflow's 401/403."""
    authenticator = scope["app"].state.authenticator
    if authenticator is None:
        return None
    header = ""
    for key, value in scope["headers"]:
        if key == b"authorization":
            header = value.decode("latin-1")
            break
    if not header:
        raise MlflowError("UNAUTHENTICATED", f"This server requires an API token. {_HOW_TO}")
    secret = _secret_from_header(header)
    if secret is None:
        raise MlflowError(
            "UNAUTHENTICATED",
            f"Unsupported Authorization header (expected 'Bearer <token>'). {_HOW_TO}",
        )
    found, token = authenticator.cached(secret)
    if not found:
        token = await anyio.to_thread.run_sync(authenticator.lookup, secret)
    if token is None:
        raise MlflowError("UNAUTHENTICATED", f"The API token is unknown or revoked. {_HOW_TO}")
    if not role_allows(token.role, needed):
        raise MlflowError(
            "PERMISSION_DENIED",
            f"{scope['method']} {scope['path']} needs the {needed!r} role; token "
            f"{token.name!r} has role {token.role!r}. Ask an admin for a {needed} token "
            f"(`modelworks token create --role {needed}`).",
        )
    return token


class MlflowMiddleware:
    """Serve the MLflow REST API; pass every other request to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._router: Any = None

    def _route(self, method: str, service: str, subpath: str) -> tuple[Route, dict[str, str]]:
        if self._router is None:
            from modelworks.server.mlflow.routes import Router

            self._router = Router()
        found: tuple[Route, dict[str, str]] = self._router.match(method, service, subpath)
        return found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(("/api/", "/ajax-api/")):
            await self.app(scope, receive, send)
            return
        match = _PATH_RE.match(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        try:
            route, path_params = self._route(method, match.group(1), match.group(2) or "")
        except MlflowError as error:
            logger.warning("Unserved MLflow API call: %s %s", method, scope["path"])
            await drain(receive)
            await send_error(send, error, method)
            return
        try:
            token = await authenticate(scope, route.role)
        except MlflowError as error:
            await drain(receive)
            await send_error(send, error, method)
            return
        if route.raw:
            await self._call_raw(route, path_params, token, scope, receive, send)
        else:
            await self._call_json(route, path_params, token, scope, receive, send)

    async def _call_json(
        self,
        route: Route,
        path_params: dict[str, str],
        token: Token | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        from modelworks.server.mlflow._context import Context
        from modelworks.server.mlflow._request import Fields

        method = scope["method"]
        try:
            request_body = await read_body(receive)
            raw_query = scope.get("query_string", b"")
            query = parse_qsl(raw_query.decode("latin-1"), True) if raw_query else []
            if method == "GET" or not request_body.strip():
                fields = Fields.from_query(query)
            else:
                fields = Fields(_parse_json(request_body))
                if query:  # e.g. GET-style flags on a PATCH (allow_deleted=true)
                    fields.data = {**{k: v for k, v in query}, **fields.data}
            app = scope["app"]
            ctx = Context(app.state.meta, app.state.blobs, token, path_params, scope)
            body = await anyio.to_thread.run_sync(_run, route.handler, ctx, fields)
        except MlflowError as error:
            await send_error(send, error, method)
            return
        except ModelworksError as error:
            if error.status_code >= 500:
                logger.error("%s %s failed: %s", method, scope["path"], error.message)
            await send_error(send, translate(error), method)
            return
        except Exception as error:  # the client deserves an answer; the log gets the trace
            logger.exception("%s %s raised an unexpected error", method, scope["path"])
            message = (
                f"Internal server error ({type(error).__name__}: {error}); see the server log."
            )
            await send_error(send, MlflowError("INTERNAL_ERROR", message), method)
            return
        await send_body(send, body)

    async def _call_raw(
        self,
        route: Route,
        path_params: dict[str, str],
        token: Token | None,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        from modelworks.server.mlflow._context import Context

        method = scope["method"]
        app = scope["app"]
        ctx = Context(app.state.meta, app.state.blobs, token, path_params, scope)
        started = False

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await route.handler(ctx, receive, tracked_send)
        except Exception as exc:
            if started:  # too late for an error response: the client sees a cut stream
                logger.exception("%s %s failed mid-response", method, scope["path"])
                raise
            if isinstance(exc, MlflowError):
                error = exc
            elif isinstance(exc, ModelworksError):
                error = translate(exc)
            else:
                logger.exception("%s %s raised an unexpected error", method, scope["path"])
                error = MlflowError(
                    "INTERNAL_ERROR",
                    f"Internal server error ({type(exc).__name__}: {exc}); see the server log.",
                )
            await drain(receive)
            await send_error(send, error, method)


def _run(handler: Any, ctx: Any, fields: Any) -> bytes:
    """Call a handler and encode its answer, both in the worker thread (a search answer can
    be megabytes of JSON: encoding it must not hold up the event loop)."""
    return encode(handler(ctx, fields))


def _parse_json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise MlflowError(
            "INVALID_PARAMETER_VALUE", f"Malformed JSON in the request body: {e}."
        ) from e
    if not isinstance(data, dict):
        raise MlflowError(
            "INVALID_PARAMETER_VALUE",
            f"The request body must be a JSON object, got {type(data).__name__}.",
        )
    return data
