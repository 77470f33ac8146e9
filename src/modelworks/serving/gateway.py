"""An endpoint's gateway: the handler on the endpoint's port, in front of its deployments.

For each scoring request (``POST /score``, ``/invocations``, ``GET /score``) it:

1. checks the credential (``Authorization: Bearer <key or token>``) → 401;
2. picks the deployment: the ``azureml-model-deployment`` header pins one (unknown → 404),
   else a weighted random choice by ``traffic`` (none with traffic → 404);
3. reads the body up to the deployment's limit → 413;
4. takes a free slot on the least busy instance (``max_concurrent_requests_per_instance``),
   waiting at most ``max_queue_wait_ms`` → 429;
5. forwards it to that worker, waiting at most ``request_timeout_ms`` → 408; a worker that
   cannot be reached (crashed, restarting) is retried once on another instance;
6. answers with the worker's answer plus ``x-request-id`` (the client's or a new one, also
   sent to the worker), ``x-ms-client-request-id`` (echoed) and ``azureml-model-deployment``;
   a scoring script that failed (500 with ``x-ms-run-function-failed``) becomes Azure's 424
   with ``ms-azureml-model-error-statuscode``;
7. copies the request to mirror deployments (``mirror_traffic`` %), discarding their answers;
8. counts it in Prometheus metrics and writes an access-log line.

``GET /``, ``/swagger.json``, ``/openapi.json`` go to a deployment without a credential;
``GET /metrics`` is the Prometheus exposition. The host changes routes, traffic and keys in
place (one assignment each), so a change never drops a request.

It runs on :mod:`modelworks.serving._http` and is written with callbacks rather than
coroutines: every scoring request crosses it, and on a two-core machine the few tens of
microseconds a Task, a Future and an ASGI round trip cost per request are a large share of
the whole answer. Steps 1-3 run when the request's headers are in (:meth:`body_limit`), the
rest in :class:`_Exchange`, one small object per request.
"""

from __future__ import annotations

import asyncio
import collections
import hmac
import json
import logging
import random
import time
import uuid
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
from modelworks.serving._http import Request, ServerConnection
from modelworks.serving.metrics import GatewayMetrics
from modelworks.serving.upstream import (
    Call,
    Instance,
    UpstreamError,
    UpstreamResponse,
    encode_request,
)

__all__ = ["AccessLog", "EndpointGateway", "Route"]

log = logging.getLogger("modelworks.endpoints.gateway")

_PUBLIC = {"/", "/swagger.json", "/openapi.json"}
_SCORING = {"/score", "/invocations"}
#: worker answer headers the gateway does not pass on (it sets its own or they are hop-by-hop)
_DROP = {
    b"connection",
    b"keep-alive",
    b"transfer-encoding",
    b"content-length",
    b"date",
    b"server",
    b"x-request-id",
}
#: client request headers not forwarded to the worker
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
    b"x-request-id",
}
_DEFAULT_LIMIT = 16 * 1024 * 1024


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
        max_body_bytes: int = _DEFAULT_LIMIT,
    ) -> None:
        self.name = name
        self.instances = instances
        self.generation = generation
        self.max_concurrent = max_concurrent
        self.queue_wait = max_queue_wait_ms / 1000
        self.timeout = request_timeout_ms / 1000
        self.max_body = max_body_bytes
        self.in_flight = 0
        self._waiters: collections.deque[Any] = collections.deque()

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

    def try_acquire(self, avoid: Instance | None = None) -> Instance | None:
        """A slot on the least busy healthy instance now, or None when all are taken."""
        instance = self._pick(avoid)
        if instance is not None:
            instance.in_flight += 1
            self.in_flight += 1
        return instance

    def busy_error(self) -> TooManyRequestsError:
        healthy = sum(1 for i in self.instances if i.healthy)
        return TooManyRequestsError(
            f"Deployment {self.name!r} is busy: {healthy} healthy instance(s) x "
            f"{self.max_concurrent} concurrent request(s) each are all taken. Retry later, or "
            "raise instance_count or request_settings.max_concurrent_requests_per_instance."
        )

    def wait(self, waiter: Any) -> None:
        """Queue ``waiter``: its ``slot(instance)`` is called when one frees up (unless its
        ``waiting`` attribute was cleared meanwhile)."""
        self._waiters.append(waiter)

    async def acquire(self, *, wait: bool = True, avoid: Instance | None = None) -> Instance:
        """A slot, waiting at most ``max_queue_wait_ms``; TooManyRequestsError after that."""
        instance = self.try_acquire(avoid)
        if instance is not None:
            return instance
        if not wait or self.queue_wait <= 0:
            raise self.busy_error()
        loop = asyncio.get_running_loop()
        waiter = _FutureWaiter(loop.create_future())
        self.wait(waiter)
        try:
            return await asyncio.wait_for(waiter.future, self.queue_wait)
        except TimeoutError:
            raise self.busy_error() from None
        finally:
            waiter.waiting = False

    def release(self, instance: Instance) -> None:
        instance.in_flight -= 1
        self.in_flight -= 1
        waiters = self._waiters
        while waiters:
            waiter = waiters[0]
            if not waiter.waiting:
                waiters.popleft()
                continue
            free = self.try_acquire()
            if free is None:
                return
            waiters.popleft()
            waiter.waiting = False
            waiter.slot(free)

    async def drained(self, timeout: float) -> bool:
        """Wait until no request is in flight (at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.in_flight > 0 or any(w.waiting for w in self._waiters):
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True


class _FutureWaiter:
    __slots__ = ("future", "waiting")

    def __init__(self, future: asyncio.Future[Instance]) -> None:
        self.future = future
        self.waiting = True

    def slot(self, instance: Instance) -> None:
        if self.future.done():  # timed out in the same loop turn: give the slot back
            return
        self.future.set_result(instance)


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


class _Head:
    """What the gateway learnt from a request's headers (kept in ``request.state``)."""

    __slots__ = ("client_id", "error", "pinned", "request_id", "route", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self.request_id = b""
        self.client_id: bytes | None = None
        self.pinned = False
        self.route: Route | None = None
        self.error: ModelworksError | None = None


class EndpointGateway:
    """The request handler of one endpoint (see the module docstring)."""

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
        self._auth_cache: dict[bytes, bool] = {}

    # -- what the host changes --------------------------------------------------------------
    def set_auth(self, mode: str, key_hashes: list[str], secret: str) -> None:
        self.auth_mode = mode
        self._key_hashes = tuple(key_hashes)
        self._secret = secret
        self._auth_cache = {}

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

    # -- credentials and routing ------------------------------------------------------------
    def _authorized(self, header: bytes | None) -> bool:
        if header is None or header[:7].lower() != b"bearer ":
            return False
        token = header[7:].strip()
        cache = self._auth_cache
        known = cache.get(token)
        if known is not None:
            return known
        valid = self._check(token)
        if self.auth_mode == "key" and valid:
            # only keys are remembered (tokens expire); cleared whenever the keys change
            if len(cache) > 64:
                cache.clear()
            cache[token] = True
        return valid

    def _check(self, token: bytes) -> bool:
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

    # -- the server's handler protocol ------------------------------------------------------
    def body_limit(self, request: Request) -> int:
        """Headers are in: authenticate, pick the deployment, say how much body it takes."""
        head = request.state = _Head(time.perf_counter())
        auth = pinned = request_id = None
        for key, value in request.headers:
            if key == b"authorization":
                auth = value
            elif key == b"azureml-model-deployment":
                pinned = value
            elif key == b"x-request-id":
                request_id = value
            elif key == b"x-ms-client-request-id":
                head.client_id = value[:100]
        if request_id is None or not 0 < len(request_id) <= 100:
            request_id = uuid.uuid4().hex.encode()
        head.request_id = request_id
        head.pinned = pinned is not None
        path = request.path
        if path == "/metrics" and request.method in ("GET", "HEAD"):
            return 0
        public = path in _PUBLIC and request.method in ("GET", "HEAD")
        try:
            if not public and not self._authorized(auth):
                raise UnauthenticatedError(
                    "Missing or invalid credential: send 'Authorization: Bearer <key>' with a "
                    f"key from 'modelworks online-endpoint get-credentials -n {self.name}'."
                )
            head.route = self._choose(pinned)
        except ModelworksError as e:
            head.error = e
            return 0
        return head.route.max_body

    def handle(self, request: Request, connection: ServerConnection) -> None:
        head: _Head = request.state
        if request.path == "/metrics" and request.method in ("GET", "HEAD"):
            body = self.metrics.exposition()
            ids = self._ids(head)
            connection.respond(request, 200, ids, body, content_type=b"text/plain; version=0.0.4")
            self._account(request, head, 200, "-", 0)
            return
        route = head.route
        if head.error is not None or route is None:
            error = head.error or NoDeploymentError(f"Endpoint {self.name!r} has no route.")
            self._reject(request, connection, head, error, None)
            return
        if request.too_large:
            self._reject(
                request,
                connection,
                head,
                PayloadTooLargeError(
                    f"The request body is over the limit of {route.max_body} bytes of "
                    f"deployment {route.name!r}. Send fewer rows per request."
                ),
                route.name,
            )
            return
        query = request.query
        target = request.path + ("?" + query.decode("latin-1") if query else "")
        headers = [(k, v) for k, v in request.headers if k not in _FORWARD_SKIP]
        headers.append((b"x-request-id", head.request_id))
        method = "GET" if request.head else request.method
        data = encode_request(method, target, headers, request.body)
        if self._mirror and not head.pinned and request.path in _SCORING:
            self._copy(route.name, data)
        _Exchange(self, request, connection, head, route, data).start()

    # -- answering --------------------------------------------------------------------------
    def _ids(self, head: _Head) -> list[tuple[bytes, bytes]]:
        ids = [(b"x-request-id", head.request_id)]
        if head.client_id is not None:
            ids.append((b"x-ms-client-request-id", head.client_id))
        return ids

    def _reject(
        self,
        request: Request,
        connection: ServerConnection,
        head: _Head,
        error: ModelworksError,
        deployment: str | None,
    ) -> None:
        status = error.status_code
        headers = self._ids(head)
        if deployment is not None:
            headers.append((b"azureml-model-deployment", deployment.encode()))
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        body = json.dumps({"message": error.message, "error_code": error.code}).encode()
        connection.respond(request, status, headers, body)
        self._account(request, head, status, deployment or "-", len(request.body))

    def _account(
        self, request: Request, head: _Head, status: int, deployment: str, size: int
    ) -> None:
        elapsed = time.perf_counter() - head.started
        self.metrics.count(self.name, deployment, status, elapsed)
        client = request.client
        self.access_log.add(
            time.time(),
            client[0] if client else "-",
            request.method,
            request.path,
            status,
            elapsed * 1000,
            deployment,
            head.request_id.decode("latin-1"),
            size,
        )

    # -- mirror traffic ---------------------------------------------------------------------
    def _copy(self, chosen: str, data: bytes) -> None:
        for name, percent in self._mirror:
            if name == chosen or random.random() * 100 >= percent:
                continue
            route = self._routes.get(name)
            if route is None:
                continue
            instance = route.try_acquire()
            if instance is None:
                self.metrics.mirrored.labels(self.name, route.name, "429").inc()
                continue
            _Mirror(self, route, instance, data)


class _Mirror:
    """One copy of a request sent to a mirror deployment; its answer is only counted."""

    __slots__ = ("call", "gateway", "instance", "route", "timer")

    def __init__(self, gateway: EndpointGateway, route: Route, instance: Instance, data: bytes):
        self.gateway = gateway
        self.route = route
        self.instance = instance
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(route.timeout, self._timeout)
        self.call: Call = instance.send(data, self._done)

    def _done(self, response: UpstreamResponse | None, error: UpstreamError | None) -> None:
        self.timer.cancel()
        self._end(str(response.status) if response is not None else "error")

    def _timeout(self) -> None:
        self.call.cancel()
        self._end("error")

    def _end(self, status: str) -> None:
        self.route.release(self.instance)
        self.gateway.metrics.mirrored.labels(self.gateway.name, self.route.name, status).inc()


class _Exchange:
    """One scoring request on its way to a worker and back (see the module docstring)."""

    __slots__ = (
        "call",
        "connection",
        "data",
        "gateway",
        "head",
        "instance",
        "request",
        "retried",
        "route",
        "timer",
        "waiting",
    )

    def __init__(
        self,
        gateway: EndpointGateway,
        request: Request,
        connection: ServerConnection,
        head: _Head,
        route: Route,
        data: bytes,
    ) -> None:
        self.gateway = gateway
        self.request = request
        self.connection = connection
        self.head = head
        self.route = route
        self.data = data
        self.instance: Instance | None = None
        self.call: Call | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.retried = False
        self.waiting = False

    def start(self) -> None:
        route = self.route
        instance = route.try_acquire()
        if instance is not None:
            self._send(instance)
        elif route.queue_wait > 0:
            self.waiting = True
            route.wait(self)
            self.timer = asyncio.get_running_loop().call_later(route.queue_wait, self._queued_out)
        else:
            self._fail(route.busy_error())

    def slot(self, instance: Instance) -> None:
        """A slot freed up while this request waited (called by :meth:`Route.release`)."""
        if self.timer is not None:
            self.timer.cancel()
        self._send(instance)

    def _queued_out(self) -> None:
        if self.waiting:
            self.waiting = False
            self._fail(self.route.busy_error())

    def _send(self, instance: Instance) -> None:
        self.instance = instance
        self.gateway.metrics.started(self.gateway.name, self.route.name)
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(self.route.timeout, self._timed_out)
        self.call = instance.send(self.data, self._answered)

    def _release(self) -> None:
        if self.instance is not None:
            self.gateway.metrics.ended(self.gateway.name, self.route.name)
            self.route.release(self.instance)
            self.instance = None

    def _timed_out(self) -> None:
        if self.call is not None:
            self.call.cancel()
        self._release()
        self._fail(
            RequestTimeoutError(
                f"Deployment {self.route.name!r} did not answer within "
                f"{self.route.timeout * 1000:.0f} ms (request_settings.request_timeout_ms)."
            )
        )

    def _answered(self, response: UpstreamResponse | None, error: UpstreamError | None) -> None:
        if self.timer is not None:
            self.timer.cancel()
        failed = self.instance
        self._release()
        if response is None:
            gateway, route = self.gateway, self.route
            if self.retried:
                self._fail(
                    RequestTimeoutError(
                        f"Deployment {route.name!r} could not be reached: {error}. Retry in a "
                        "moment."
                    )
                )
                return
            log.warning(
                "%s/%s %s: %s; retrying on another instance",
                gateway.name,
                route.name,
                failed.label if failed is not None else "?",
                error,
            )
            self.retried = True
            other = route.try_acquire(avoid=failed) or route.try_acquire()
            if other is None:
                self._fail(
                    RequestTimeoutError(
                        f"Deployment {route.name!r} has no reachable instance (its workers are "
                        "restarting). Retry in a moment."
                    )
                )
                return
            self._send(other)
            return
        status = response.status
        headers = [(k, v) for k, v in response.headers if k not in _DROP]
        if status >= 500:
            for k, v in headers:
                if k == b"x-ms-run-function-failed" and v.lower() == b"true":
                    headers.append((b"ms-azureml-model-error-statuscode", str(status).encode()))
                    headers.append((b"ms-azureml-model-error-reason", b"model_error"))
                    status = 424
                    break
        headers.append((b"azureml-model-deployment", self.route.name.encode()))
        headers += self.gateway._ids(self.head)
        self.connection.respond(self.request, status, headers, response.body, content_type=None)
        self.gateway._account(
            self.request, self.head, status, self.route.name, len(self.request.body)
        )

    def _fail(self, error: ModelworksError) -> None:
        self.gateway._reject(self.request, self.connection, self.head, error, self.route.name)
