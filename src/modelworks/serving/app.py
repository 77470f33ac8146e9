"""The scoring app one worker process runs: a plain ASGI app, no framework on the hot path.

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
take tens of microseconds); score.py run() and DataFrame predictions run in the worker's one
model thread, so probes keep answering while a request is scored.
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


class ScoringApp:
    """ASGI app for one scorer (:class:`~modelworks.serving.nocode.NoCodeScorer` or
    :class:`~modelworks.serving.script.ScriptScorer`)."""

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

    # -- ASGI -------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope["method"]
        path = scope["path"]
        request_id = _request_id(scope)
        try:
            if path == "/score":
                await self._score(scope, receive, send, request_id)
            elif path == "/invocations":
                if method != "POST":
                    raise _MethodNotAllowed("POST")
                if self.is_script:
                    raise _NotFound(
                        "This deployment runs a scoring script, which answers POST /score; "
                        "/invocations is for no-code model deployments."
                    )
                await self._model(scope, receive, send, request_id, "/invocations")
            elif method in ("GET", "HEAD"):
                await self._get(scope, send, path, request_id)
            else:
                raise _NotFound(f"No route {method} {path}.")
        except ModelworksError as e:
            await _send(send, e.status_code, _error_body(e), request_id, _error_headers(e))
        except Exception:  # noqa: BLE001 - the last line of defence: 500 and a log line
            log.error("Unhandled error on %s %s:\n%s", method, path, traceback.format_exc())
            await _send(send, 500, dumps({"message": _INTERNAL}), request_id)

    async def _get(self, scope: Scope, send: Send, path: str, request_id: bytes) -> None:
        if path == "/":
            await _send(
                send, 200, b"Healthy", request_id, content_type=b"text/plain; charset=utf-8"
            )
        elif path in ("/health", "/ping"):
            await _send(send, 200, b'{"status":"ok"}', request_id)
        elif path == "/ready":
            await _send(send, 200, self.ready_body, request_id)
        elif path in ("/swagger.json", "/openapi.json"):
            query = _query(scope)
            version = "3" if path == "/openapi.json" else query.get("version")
            key = version or "2"
            if key not in self._swagger:
                from modelworks.serving.swagger import swagger_for

                self._swagger[key] = dumps(swagger_for(self.scorer, version))
            await _send(send, 200, self._swagger[key], request_id)
        else:
            raise _NotFound(
                f"No route GET {path}. Routes: GET /, /ready, /swagger.json; POST /score"
                + ("" if self.is_script else ", /invocations")
                + "."
            )

    async def _score(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        method = scope["method"]
        if method == "OPTIONS":
            await _send(send, 200, b"", request_id, content_type=b"text/plain")
            return
        if self.is_script:
            if method not in ("GET", "POST"):
                raise _MethodNotAllowed("GET, POST")
            await self._script(scope, receive, send, request_id)
            return
        if method != "POST":
            raise _MethodNotAllowed("POST")
        await self._model(scope, receive, send, request_id, "/score")

    async def _model(
        self, scope: Scope, receive: Receive, send: Send, request_id: bytes, route: str
    ) -> None:
        body = await read_body(scope, receive, self.max_body)
        started = time.perf_counter()
        payload = _loads(body)
        want = scope.get("query_string") and _query(scope).get("probabilities") in (
            "1",
            "true",
            "True",
        )
        prepared = self.scorer.prepare(payload, want_proba=bool(want))
        if self.batcher is not None:
            answer = await self.batcher.submit(prepared)
        elif prepared.fast:
            answer = self.scorer.predict(prepared)
        else:
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self.executor, self.scorer.predict, prepared)
        elapsed = (time.perf_counter() - started) * 1000
        await _send(
            send,
            200,
            dumps(answer),
            request_id,
            [(b"x-ms-run-fn-exec-ms", f"{elapsed:.3f}".encode())],
        )

    async def _script(self, scope: Scope, receive: Receive, send: Send, request_id: bytes) -> None:
        body = await read_body(scope, receive, self.max_body) if scope["method"] == "POST" else b""
        headers = [(_title(k.decode("latin-1")), v.decode("latin-1")) for k, v in scope["headers"]]
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self.executor,
            lambda: self.scorer.call(
                method=scope["method"],
                body=body,
                query=scope.get("query_string", b""),
                headers=headers,
                path=scope["path"],
            ),
        )
        extra = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in result.headers]
        content_type = next((v for k, v in extra if k == b"content-type"), _JSON)
        extra = [(k, v) for k, v in extra if k not in (b"content-type", b"content-length")]
        extra.append((b"x-ms-run-fn-exec-ms", f"{result.elapsed_ms:.3f}".encode()))
        await _send(send, result.status, result.body, request_id, extra, content_type=content_type)


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


def _request_id(scope: Scope) -> bytes:
    for key, value in scope["headers"]:
        if key == b"x-request-id" and 0 < len(value) <= 100:
            return bytes(value)
    return uuid.uuid4().hex.encode()


def _query(scope: Scope) -> dict[str, str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))


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
