"""The scoring app one worker process runs: no framework on the hot path.

Routes (Azure's inference server and MLflow's scoring server in one)::

    GET  /                  "Healthy" (Azure's liveness route)
    GET  /health /ping      {"status": "ok"}
    GET  /ready             {"status": "ready", ...} once the model is loaded / init() ran
    GET  /swagger.json      Swagger 2.0 (?version=3 for OpenAPI 3); /openapi.json is version 3
    POST /score             Azure: score.py run(), or a no-code model's input_data body
    GET  /score             score.py only: query parameters as the input (Azure does the same)
    POST /invocations       MLflow's scoring protocol (no-code models)

Errors answer ``{"message": ..., "error_code": ..., "details": ...}`` with the status of the
error (400 malformed body, 422 signature mismatch, 413 body too large, 500 a failing run()
with ``x-ms-run-function-failed: True``). Fast no-code predictions run on the event loop (they
take tens of microseconds) and are answered without a Task; score.py run() and DataFrame
predictions (including building and checking the DataFrame) run in the worker's one model
thread, so probes keep answering while a request is scored.

The same app serves behind the gateway (worker processes, on :mod:`modelworks.serving._http`)
and standalone as ASGI (``modelworks serve``, the packaged container): see :class:`ScoringApp`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from modelworks.errors import InvalidInputError, ModelworksError
from modelworks.serving._errors import PayloadTooLargeError
from modelworks.serving._http import Request, ServerConnection

__all__ = ["ScoringApp", "dumps"]

log = logging.getLogger("modelworks.serving")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

DEFAULT_MAX_BODY = 16 * 1024 * 1024
_JSON = b"application/json"
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_INTERNAL = "An unexpected internal error occurred. Check the logs for more info."


def _default(value: Any) -> Any:
    if hasattr(value, "to_dict") and hasattr(value, "columns"):
        return value.to_dict(orient="records")
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    """JSON bytes of a prediction (numpy arrays, DataFrames, NaN as null)."""
    return orjson.dumps(value, option=_OPTIONS, default=_default)


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        import json

        try:  # NaN / Infinity tokens, which orjson refuses and Python writes
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            pass
        if not body.strip():
            raise InvalidInputError(
                'The request body is empty; send JSON such as {"input_data": {"columns": [...], '
                '"data": [[...]]}}.'
            ) from e
        raise InvalidInputError(f"The request body is not valid JSON: {e}.") from e


class _Answer:
    """A response: status, extra headers, body and content type."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
        content_type: bytes = _JSON,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or []
        self.content_type = content_type


class ScoringApp:
    """The scoring app for one scorer (:class:`~modelworks.serving.nocode.NoCodeScorer` or
    :class:`~modelworks.serving.script.ScriptScorer`).

    Two ways in, one behaviour: as a handler of :mod:`modelworks.serving._http` (what worker
    processes serve; a fast-path prediction is answered inside :meth:`handle`, without a Task),
    and as an ASGI app (``modelworks serve``, the packaged container, tests).
    """

    def __init__(
        self,
        scorer: Any,
        *,
        batching: dict[str, Any] | None = None,
        max_body_bytes: int | None = None,
        deployment: str | None = None,
    ) -> None:
        self.scorer = scorer
        self.deployment = deployment
        self.max_body = max_body_bytes or int(
            os.environ.get("MODELWORKS_MAX_REQUEST_BYTES", DEFAULT_MAX_BODY)
        )
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.is_script = getattr(scorer, "kind", "") == "script"
        self.batcher = None
        if batching and not self.is_script:
            from modelworks.serving.batching import MicroBatcher

            self.batcher = MicroBatcher(
                scorer.predict_many,
                max_batch_size=int(batching.get("max_batch_size", 32)),
                max_latency_ms=float(batching.get("max_latency_ms", 2.0)),
                executor=self.executor,
            )
        self._swagger: dict[str, bytes] = {}
        self.ready_body = dumps(
            {
                "status": "ready",
                "model": getattr(scorer, "name", ""),
                "version": getattr(scorer, "version", ""),
                "deployment": deployment,
                "kind": "script" if self.is_script else "model",
                "fast_path": bool(getattr(scorer, "fast_path", False)),
                "micro_batching": self.batcher is not None,
                "pid": os.getpid(),
            }
        )

    # -- the worker's HTTP server -----------------------------------------------------------
    def body_limit(self, request: Request) -> int:
        return self.max_body

    def handle(self, request: Request, connection: ServerConnection) -> None:
        request_id = _request_id(request.headers)
        try:
            if request.too_large:
                raise PayloadTooLargeError(
                    f"The request body is over the limit of {self.max_body} bytes. Send fewer "
                    "rows per request."
                )
            result = self.dispatch(
                request.method, request.path, request.query, request.headers, request.body
            )
        except Exception as e:  # noqa: BLE001 - every error becomes an answer
            result = _failure(e, request.method, request.path)
        if isinstance(result, _Answer):
            _respond(connection, request, request_id, result)
            return

        def done(future: asyncio.Future[_Answer]) -> None:
            try:
                answer = future.result()
            except BaseException as e:  # noqa: BLE001 - every error becomes an answer
                answer = _failure(e, request.method, request.path)
            _respond(connection, request, request_id, answer)

        asyncio.ensure_future(result).add_done_callback(done)

    # -- ASGI -------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope["method"]
        path = scope["path"]
        headers = scope["headers"]
        request_id = _request_id(headers)
        try:
            body = await read_body(scope, receive, self.max_body) if method == "POST" else b""
            result = self.dispatch(method, path, scope.get("query_string", b""), headers, body)
            if not isinstance(result, _Answer):
                result = await result
        except Exception as e:  # noqa: BLE001 - every error becomes an answer
            result = _failure(e, method, path)
        await _send(
            send,
            result.status,
            result.body,
            request_id,
            result.headers,
            content_type=result.content_type,
        )

    # -- routing ----------------------------------------------------------------------------
    def dispatch(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> _Answer | Awaitable[_Answer]:
        """The answer to one request, or an awaitable of it (raises ModelworksError)."""
        if path == "/score":
            if method == "OPTIONS":
                return _Answer(200, b"", content_type=b"text/plain")
            if self.is_script:
                if method not in ("GET", "POST"):
                    raise _MethodNotAllowed("GET, POST")
                return self._script(method, path, query, headers, body)
            if method != "POST":
                raise _MethodNotAllowed("POST")
            return self._model(query, body)
        if path == "/invocations":
            if method != "POST":
                raise _MethodNotAllowed("POST")
            if self.is_script:
                raise _NotFound(
                    "This deployment runs a scoring script, which answers POST /score; "
                    "/invocations is for no-code model deployments."
                )
            return self._model(query, body)
        if method in ("GET", "HEAD"):
            return self._get(path, query)
        raise _NotFound(f"No route {method} {path}.")

    def _get(self, path: str, query: bytes) -> _Answer:
        if path == "/":
            return _Answer(200, b"Healthy", content_type=b"text/plain; charset=utf-8")
        if path in ("/health", "/ping"):
            return _Answer(200, b'{"status":"ok"}')
        if path == "/ready":
            return _Answer(200, self.ready_body)
        if path in ("/swagger.json", "/openapi.json"):
            version = "3" if path == "/openapi.json" else _query(query).get("version")
            key = version or "2"
            if key not in self._swagger:
                from modelworks.serving.swagger import swagger_for

                self._swagger[key] = dumps(swagger_for(self.scorer, version))
            return _Answer(200, self._swagger[key])
        raise _NotFound(
            f"No route GET {path}. Routes: GET /, /ready, /swagger.json; POST /score"
            + ("" if self.is_script else ", /invocations")
            + "."
        )

    def _model(self, query: bytes, body: bytes) -> _Answer | Awaitable[_Answer]:
        started = time.perf_counter()
        payload = _loads(body)
        want = bool(query) and _query(query).get("probabilities") in ("1", "true", "True")
        prepared = self.scorer.prepare(payload, want_proba=want, defer=True)
        if self.batcher is not None:
            return _then(self.batcher.submit(prepared), lambda a: _scored(a, started))
        if prepared.fast:
            return _scored(self.scorer.predict(prepared), started)
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, self.scorer.predict, prepared)
        return _then(future, lambda a: _scored(a, started))

    def _script(
        self,
        method: str,
        path: str,
        query: bytes,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Awaitable[_Answer]:
        titled = [(_title(k.decode("latin-1")), v.decode("latin-1")) for k, v in headers]
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(
            self.executor,
            lambda: self.scorer.call(
                method=method, body=body, query=query, headers=titled, path=path
            ),
        )
        return _then(future, _script_answer)


def _scored(answer: Any, started: float) -> _Answer:
    elapsed = (time.perf_counter() - started) * 1000
    return _Answer(200, dumps(answer), [(b"x-ms-run-fn-exec-ms", f"{elapsed:.3f}".encode())])


def _script_answer(result: Any) -> _Answer:
    extra = []
    content_type = _JSON
    for k, v in result.headers:
        name = str(k).lower().encode("latin-1")
        value = str(v).encode("latin-1")
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name or b":" in name:
            log.warning("Dropped an invalid response header from the scoring script: %r", k)
            continue
        if name == b"content-type":
            content_type = value
        elif name != b"content-length":
            extra.append((name, value))
    extra.append((b"x-ms-run-fn-exec-ms", f"{result.elapsed_ms:.3f}".encode()))
    return _Answer(result.status, result.body, extra, content_type)


def _then(source: Awaitable[Any], convert: Callable[[Any], _Answer]) -> asyncio.Future[_Answer]:
    """A future of ``convert(result of source)`` (errors pass through)."""
    future = asyncio.ensure_future(source)
    out: asyncio.Future[_Answer] = future.get_loop().create_future()

    def done(f: asyncio.Future[Any]) -> None:
        if out.done():
            return
        if f.cancelled():
            out.cancel()
            return
        error = f.exception()
        if error is not None:
            out.set_exception(error)
            return
        try:
            out.set_result(convert(f.result()))
        except Exception as e:  # noqa: BLE001 - e.g. an answer that cannot be serialised
            out.set_exception(e)

    future.add_done_callback(done)
    return out


def _failure(error: BaseException, method: str, path: str) -> _Answer:
    if isinstance(error, ModelworksError):
        return _Answer(error.status_code, _error_body(error), _error_headers(error))
    log.error(
        "Unhandled error on %s %s:\n%s",
        method,
        path,
        "".join(traceback.format_exception(error)),
    )
    return _Answer(500, dumps({"message": _INTERNAL}))


def _respond(
    connection: ServerConnection, request: Request, request_id: bytes, answer: _Answer
) -> None:
    headers = [(b"x-request-id", request_id)]
    if answer.headers:
        headers += answer.headers
    connection.respond(
        request, answer.status, headers, answer.body, content_type=answer.content_type
    )


class _NotFound(ModelworksError):
    status_code = 404
    code = "NOT_FOUND"


class _MethodNotAllowed(ModelworksError):
    status_code = 405
    code = "METHOD_NOT_ALLOWED"

    def __init__(self, allowed: str) -> None:
        super().__init__(f"Method not allowed; use {allowed}.")
        self.allowed = allowed


def _title(name: str) -> str:
    """``x-request-id`` → ``X-Request-Id``: header names as Flask (Azure's server) gives them."""
    return "-".join(part.capitalize() for part in name.split("-"))


def _error_body(error: ModelworksError) -> bytes:
    body: dict[str, Any] = {"message": error.message, "error_code": error.code}
    if error.details:
        body["details"] = error.details
    return dumps(body)


def _error_headers(error: ModelworksError) -> list[tuple[bytes, bytes]]:
    if error.status_code == 500 and error.code == "SCORING_SCRIPT_ERROR":
        return [(b"x-ms-run-function-failed", b"True")]
    if isinstance(error, _MethodNotAllowed):
        return [(b"allow", error.allowed.encode())]
    return []


def _request_id(headers: list[tuple[bytes, bytes]]) -> bytes:
    for key, value in headers:
        if key == b"x-request-id" and 0 < len(value) <= 100:
            return bytes(value)
    return uuid.uuid4().hex.encode()


def _query(query: bytes) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query.decode("latin-1")))


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The request body; :class:`PayloadTooLargeError` (413) past ``limit`` bytes."""
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise InvalidInputError("The Content-Length header is not a number.") from None
            if declared > limit:
                raise PayloadTooLargeError(
                    f"The request body has {declared} bytes; the limit is {limit}. Send fewer "
                    "rows per request."
                )
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLargeError(
                    f"The request body is over the limit of {limit} bytes. Send fewer rows per "
                    "request."
                )
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    request_id: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    content_type: bytes = _JSON,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id),
    ]
    if extra:
        headers.extend(extra)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
