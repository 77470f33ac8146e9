"""An endpoint's gateway: the ASGI app on the endpoint's port, in front of its deployments.

For each scoring request (``POST /score``, ``/invocations``, ``GET /score``) it:

1. checks the credential (``Authorization: Bearer <key or token>``) → 401;
2. picks the deployment: the ``azureml-model-deployment`` header pins one (unknown → 404),
   else a weighted random choice by ``traffic`` (none with traffic → 404);
3. reads the body up to the deployment's limit → 413;
4. takes a free slot on the least busy instance (``max_concurrent_requests_per_instance``),
   waiting at most ``max_queue_wait_ms`` → 429;
5. forwards it to that worker, waiting at most ``request_timeout_ms`` → 408; a worker that
   cannot be reached (crashed, restarting) is retried once on another instance;
6. answers with the worker's answer plus ``x-request-id`` (the client's or a new one),
   ``x-ms-client-request-id`` (echoed) and ``azureml-model-deployment``; a scoring script
   that failed (500 with ``x-ms-run-function-failed``) becomes Azure's 424 with
   ``ms-azureml-model-error-statuscode``;
7. copies the request to mirror deployments (``mirror_traffic`` %), discarding their answers;
8. counts it in Prometheus metrics and writes an access-log line.

``GET /``, ``/swagger.json``, ``/openapi.json`` go to a deployment without a credential;
``GET /metrics`` is the Prometheus exposition. The host changes routes, traffic and keys in
place (one assignment each), so a change never drops a request.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from modelworks.errors import ModelworksError, UnauthenticatedError
from modelworks.serving._auth import hash_key, verify_token
from modelworks.serving._errors import (
    NoDeploymentError,
    PayloadTooLargeError,
    RequestTimeoutError,
    TooManyRequestsError,
)
from modelworks.serving.metrics import GatewayMetrics
from modelworks.serving.upstream import Instance, UpstreamError

__all__ = ["AccessLog", "EndpointGateway", "Route"]

log = logging.getLogger("modelworks.endpoints.gateway")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

_PUBLIC = {"/", "/swagger.json", "/openapi.json"}
_SCORING = {"/score", "/invocations"}
_DROP = {
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"content-length",
    b"date",
    b"server",
    b"x-request-id",
}
_FORWARD_SKIP = {
    b"host",
    b"connection",
    b"keep-alive",
    b"content-length",
    b"transfer-encoding",
    b"te",
    b"upgrade",
    b"authorization",
    b"expect",
}


class Route:
    """One deployment generation behind the gateway: its instances and request settings."""

    def __init__(
        self,
        name: str,
        instances: list[Instance],
        *,
        generation: int = 1,
        max_concurrent: int = 1,
        max_queue_wait_ms: float = 500,
        request_timeout_ms: float = 5000,
        max_body_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        self.name = name
        self.instances = instances
        self.generation = generation
        self.max_concurrent = max_concurrent
        self.queue_wait = max_queue_wait_ms / 1000
        self.timeout = request_timeout_ms / 1000
        self.max_body = max_body_bytes
        self.in_flight = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    def _pick(self, avoid: Instance | None = None) -> Instance | None:
        best: Instance | None = None
        for instance in self.instances:
            if not instance.healthy or instance is avoid:
                continue
            if instance.in_flight < self.max_concurrent and (
                best is None or instance.in_flight < best.in_flight
            ):
                best = instance
        return best

    async def acquire(self, *, wait: bool = True, avoid: Instance | None = None) -> Instance:
        """A slot on the least busy healthy instance; TooManyRequestsError past the queue wait."""
        instance = self._pick(avoid)
        if instance is None and wait and self.queue_wait > 0:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + self.queue_wait
            while instance is None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append(waiter)
                try:
                    await asyncio.wait_for(waiter, remaining)
                except TimeoutError:
                    pass
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
                instance = self._pick(avoid)
        if instance is None:
            healthy = sum(1 for i in self.instances if i.healthy)
            raise TooManyRequestsError(
                f"Deployment {self.name!r} is busy: {healthy} healthy instance(s) x "
                f"{self.max_concurrent} concurrent request(s) each are all taken. Retry later, or "
                "raise instance_count or request_settings.max_concurrent_requests_per_instance."
            )
        instance.in_flight += 1
        self.in_flight += 1
        return instance

    def release(self, instance: Instance) -> None:
        instance.in_flight -= 1
        self.in_flight -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.in_flight > 0 or self._waiters:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True


class AccessLog:
    """Buffered access log: one line per request, written at most every half second."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lines: list[tuple[Any, ...]] = []
        self._scheduled = False
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)

    def add(self, *entry: Any) -> None:
        if self.path is None:
            return
        self._lines.append(entry)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(0.5, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        if not self._lines or self.path is None:
            return
        lines, self._lines = self._lines, []
        out = []
        for when, client, method, path, status, ms, deployment, request_id, size in lines:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when))
            out.append(
                f'{stamp}.{int(when * 1000) % 1000:03d}Z {client} "{method} {path}" {status} '
                f"{ms:.2f}ms {size}B deployment={deployment or '-'} request_id={request_id}\n"
            )
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.writelines(out)


class EndpointGateway:
    """The ASGI app of one endpoint (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        metrics: GatewayMetrics | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.name = name
        self.metrics = metrics or GatewayMetrics()
        self.access_log = access_log or AccessLog(None)
        self.auth_mode = "key"
        self._key_hashes: tuple[str, ...] = ()
        self._secret = ""
        self._routes: dict[str, Route] = {}
        self._traffic: list[tuple[float, str]] = []
        self._mirror: list[tuple[str, float]] = []
        self._background: set[asyncio.Task[None]] = set()

    # -- what the host changes --------------------------------------------------------------
    def set_auth(self, mode: str, key_hashes: list[str], secret: str) -> None:
        self.auth_mode = mode
        self._key_hashes = tuple(key_hashes)
        self._secret = secret

    def set_routes(self, routes: dict[str, Route]) -> None:
        self._routes = dict(routes)

    def set_route(self, route: Route) -> Route | None:
        """Put ``route`` in place of the deployment's current one; returns the one replaced."""
        old = self._routes.get(route.name)
        routes = dict(self._routes)
        routes[route.name] = route
        self._routes = routes
        return old

    def remove_route(self, name: str) -> Route | None:
        routes = dict(self._routes)
        old = routes.pop(name, None)
        self._routes = routes
        return old

    @property
    def routes(self) -> dict[str, Route]:
        return dict(self._routes)

    def set_traffic(self, traffic: dict[str, int], mirror: dict[str, int] | None = None) -> None:
        table = []
        total = 0.0
        for deployment, weight in sorted(traffic.items()):
            if weight > 0:
                total += weight
                table.append((total, deployment))
        self._traffic = [(cumulative / total, d) for cumulative, d in table] if total else []
        self._mirror = [(d, float(w)) for d, w in sorted((mirror or {}).items()) if w > 0]

    # -- requests ---------------------------------------------------------------------------
    def _authorized(self, header: bytes | None) -> bool:
        if header is None or header[:7].lower() != b"bearer ":
            return False
        token = header[7:].strip()
        if self.auth_mode == "key":
            digest = hash_key(token)
            if any(hmac.compare_digest(digest, h) for h in self._key_hashes):
                return True
        try:
            text = token.decode("ascii")
        except UnicodeDecodeError:
            return False
        return bool(self._secret) and verify_token(text, self.name, self._secret)

    def _choose(self, pinned: bytes | None) -> Route:
        routes = self._routes
        if pinned is not None:
            name = pinned.decode("latin-1").strip()
            route = routes.get(name)
            if route is None:
                known = ", ".join(sorted(routes)) or "none"
                raise NoDeploymentError(
                    f"Endpoint {self.name!r} has no deployment {name!r} (from the "
                    f"azureml-model-deployment header); its deployments: {known}."
                )
            return route
        table = self._traffic
        if table:
            if len(table) == 1:
                route = routes.get(table[0][1])
            else:
                draw = random.random()
                route = None
                for cumulative, name in table:
                    if draw < cumulative:
                        route = routes.get(name)
                        break
                else:
                    route = routes.get(table[-1][1])
            if route is not None:
                return route
        raise NoDeploymentError(
            f"No valid deployments to route to on endpoint {self.name!r}: no deployment takes "
            "traffic. Give one traffic (modelworks online-endpoint update -n "
            f'{self.name} --traffic "blue=100") or pin one with the azureml-model-deployment '
            "header."
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        auth = pinned = request_id = client_id = None
        length = None
        for key, value in scope["headers"]:
            if key == b"authorization":
                auth = value
            elif key == b"azureml-model-deployment":
                pinned = value
            elif key == b"x-request-id":
                request_id = value
            elif key == b"x-ms-client-request-id":
                client_id = value
            elif key == b"content-length":
                length = value
        if request_id is None or not 0 < len(request_id) <= 100:
            request_id = uuid.uuid4().hex.encode()
        ids = [(b"x-request-id", request_id)]
        if client_id is not None:
            ids.append((b"x-ms-client-request-id", client_id[:100]))
        deployment = "-"
        status = 500
        size = 0
        try:
            if path == "/metrics" and method == "GET":
                body = self.metrics.exposition()
                status = 200
                await _answer(send, 200, body, ids, b"text/plain; version=0.0.4")
                return
            public = path in _PUBLIC and method in ("GET", "HEAD")
            if not public and not self._authorized(auth):
                raise UnauthenticatedError(
                    "Missing or invalid credential: send 'Authorization: Bearer <key>' with a key "
                    f"from 'modelworks online-endpoint get-credentials -n {self.name}'."
                )
            route = self._choose(pinned)
            deployment = route.name
            if length is not None and length.isdigit() and int(length) > route.max_body:
                raise PayloadTooLargeError(
                    f"The request body has {int(length)} bytes; deployment {route.name!r} accepts "
                    f"at most {route.max_body}. Send fewer rows per request."
                )
            body = await _read(receive, route.max_body, route.name)
            size = len(body)
            target = path + (
                "?" + scope["query_string"].decode("latin-1") if scope.get("query_string") else ""
            )
            forwarded = [(k, v) for k, v in scope["headers"] if k not in _FORWARD_SKIP]
            if pinned is None and self._mirror and path in _SCORING:
                self._copy(route.name, method, target, forwarded, body)
            response = await self._forward(route, method, target, forwarded, body)
            status = response.status
            headers = [(k, v) for k, v in response.headers if k not in _DROP]
            if status >= 500 and any(
                k == b"x-ms-run-function-failed" and v.lower() == b"true" for k, v in headers
            ):
                headers.append((b"ms-azureml-model-error-statuscode", str(status).encode()))
                headers.append((b"ms-azureml-model-error-reason", b"model_error"))
                status = 424
            headers.append((b"azureml-model-deployment", route.name.encode()))
            headers.extend(ids)
            headers.append((b"content-length", str(len(response.body)).encode()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": response.body})
        except ModelworksError as e:
            status = e.status_code
            extra = list(ids)
            if deployment != "-":
                extra.append((b"azureml-model-deployment", deployment.encode()))
            if status == 401:
                extra.append((b"www-authenticate", b"Bearer"))
            await _answer(send, status, _error(e), extra)
        except Exception:
            log.exception("gateway error on %s %s", method, path)
            status = 502
            await _answer(
                send, 502, b'{"message":"The gateway failed to reach the deployment."}', ids
            )
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.count(self.name, deployment, status, elapsed)
            client = scope.get("client")
            self.access_log.add(
                time.time(),
                client[0] if client else "-",
                method,
                path,
                status,
                elapsed * 1000,
                deployment,
                request_id.decode("latin-1"),
                size,
            )

    async def _forward(
        self,
        route: Route,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> Any:
        gauge = self.metrics.gauge(self.name, route.name)
        instance = await route.acquire()
        gauge.inc()
        try:
            try:
                return await instance.request(method, target, headers, body, route.timeout)
            except UpstreamError as first:
                log.warning(
                    "%s/%s %s: %s; retrying on another instance",
                    self.name,
                    route.name,
                    instance.label,
                    first,
                )
                other = route._pick(avoid=instance) or route._pick()
                if other is None:
                    raise RequestTimeoutError(
                        f"Deployment {route.name!r} has no reachable instance (its workers are "
                        "restarting). Retry in a moment."
                    ) from first
                return await other.request(method, target, headers, body, route.timeout)
        except TimeoutError as e:
            raise RequestTimeoutError(
                f"Deployment {route.name!r} did not answer within {route.timeout * 1000:.0f} ms "
                "(request_settings.request_timeout_ms)."
            ) from e
        except UpstreamError as e:
            raise RequestTimeoutError(
                f"Deployment {route.name!r} could not be reached: {e}. Retry in a moment."
            ) from e
        finally:
            gauge.dec()
            route.release(instance)

    def _copy(
        self,
        chosen: str,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        for name, percent in self._mirror:
            if name == chosen or random.random() * 100 >= percent:
                continue
            route = self._routes.get(name)
            if route is None:
                continue
            task = asyncio.get_running_loop().create_task(
                self._mirror_one(route, method, target, headers, body)
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _mirror_one(
        self,
        route: Route,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        status = "error"
        try:
            instance = await route.acquire(wait=False)
        except TooManyRequestsError:
            self.metrics.mirrored.labels(self.name, route.name, "429").inc()
            return
        try:
            response = await instance.request(method, target, headers, body, route.timeout)
            status = str(response.status)
        except (UpstreamError, TimeoutError):
            status = "error"
        finally:
            route.release(instance)
            self.metrics.mirrored.labels(self.name, route.name, status).inc()


def _error(error: ModelworksError) -> bytes:
    import json

    body: dict[str, Any] = {"message": error.message, "error_code": error.code}
    return json.dumps(body).encode()


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    extra: list[tuple[bytes, bytes]],
    content_type: bytes = b"application/json",
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _read(receive: Receive, limit: int, deployment: str) -> bytes:
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
                    f"The request body is over the limit of {limit} bytes of deployment "
                    f"{deployment!r}. Send fewer rows per request."
                )
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
