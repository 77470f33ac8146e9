"""A small HTTP/1.1 server for the endpoint gateways and the deployment workers.

Both sit on the path of every scoring request, on machines where two cores may be all there
is, so they use this server rather than uvicorn: it parses with ``httptools`` (the parser
uvicorn uses) on the running asyncio/uvloop loop, hands each complete request to its handler
*synchronously* (no ASGI scope, no Task per request), and writes each answer — status line,
headers and body — with one write (uvicorn writes headers and body separately: two
syscalls, two TCP segments). A handler that must wait (for a worker, a model thread) answers
later; requests pipelined on one connection are answered in order.

What it does: keep-alive (HTTP/1.1, and HTTP/1.0 with ``Connection: keep-alive``), chunked
request bodies, ``Expect: 100-continue``, ``HEAD`` (headers only), a body limit per request
(the handler names it once the headers are in; a larger body is read and dropped, and the
handler answers, e.g. 413), 400 for malformed requests and 431 for oversized headers (the
connection then closes), a ``Date`` header, idle connections closed after ``keep_alive_s``,
back-pressure (reading pauses while the client does not read answers or pipelines too
much), and a graceful close (stop accepting, let in-flight requests finish, close).

The handler protocol (:class:`Handler`)::

    limit = handler.body_limit(request)    # headers parsed; may keep notes in request.state
    handler.handle(request, connection)    # body read; answer now or later, exactly once:
    connection.respond(request, status, headers, body, content_type=b"application/json")
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import email.utils
import http
import logging
import signal
import socket
import urllib.parse
from typing import Any, Protocol

import httptools

__all__ = ["Handler", "HttpServer", "Request", "ServerConnection", "run_server"]

log = logging.getLogger("modelworks.serving.http")


def _status_line(code: int) -> bytes:
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = ""
    return b"HTTP/1.1 %d %s\r\n" % (code, phrase.encode())


#: ``HTTP/1.1 <code> <reason>\r\n`` for every status code.
STATUS_LINES = {code: _status_line(code) for code in range(100, 600)}
MAX_PIPELINE = 16  # parsed requests waiting behind the one being answered before reading pauses
MAX_DISCARD = 64 * 1024 * 1024  # bytes of an over-limit body read and dropped before closing
JOIN_LIMIT = 256 * 1024  # bodies up to this size are written together with the headers


class Request:
    """One parsed request. ``headers`` are ``(lower-case name, value)`` byte pairs."""

    __slots__ = (
        "_chunks",
        "_early",
        "body",
        "client",
        "head",
        "headers",
        "http_version",
        "keep_alive",
        "limit",
        "method",
        "path",
        "query",
        "size",
        "state",
        "too_large",
    )

    def __init__(self, client: tuple[str, int] | None) -> None:
        self.client = client
        self.method = "GET"
        self.path = "/"
        self.query = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body = b""
        self.http_version = "1.1"
        self.keep_alive = True
        self.head = False
        self.too_large = False
        self.limit = 0
        self.size = 0
        self.state: Any = None
        self._chunks: list[bytes] = []
        self._early = False

    def header(self, name: bytes) -> bytes | None:
        """The first value of header ``name`` (lower case), or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None


class Handler(Protocol):
    """What the server calls (see the module docstring)."""

    def body_limit(self, request: Request) -> int:
        """The largest body accepted for ``request`` (headers parsed, body not yet read)."""
        ...

    def handle(self, request: Request, connection: ServerConnection) -> None:
        """Answer ``request`` now or later with ``connection.respond`` (exactly once)."""
        ...


class _HeadersTooLarge(Exception):
    pass


class ServerConnection(asyncio.Protocol):
    """One client connection: parses requests, hands them to the handler, writes answers."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.handler = server.handler
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.client: tuple[str, int] | None = None
        self.request: Request | None = None  # the one being parsed
        self.current: Request | None = None  # the one being answered
        self.pending: collections.deque[Request] = collections.deque()
        self.last_active = 0.0
        self._url = b""
        self._header_bytes = 0
        self._dispatching = False
        self._paused_pipeline = False
        self._paused_writes = False
        self._discarded = 0
        self.closing = False

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.last_active = self.server.now
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.closing = True
        self.pending.clear()
        self.server.connections.discard(self)
        self.server.idle_changed()

    def data_received(self, data: bytes) -> None:
        self.last_active = self.server.now
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # an Upgrade (h2c, websocket) this server does not do: answer the request as
            # HTTP/1.1 and close the connection afterwards
            if self.current is None and not self.pending and self.transport is not None:
                self.closing = True
                self.transport.close()
            if self.current is not None:
                self.current.keep_alive = False
            for request in self.pending:
                request.keep_alive = False
        except httptools.HttpParserError as e:
            too_large = isinstance(e.__context__, _HeadersTooLarge) or isinstance(
                e.__cause__, _HeadersTooLarge
            )
            self._fail(431 if too_large else 400)

    def eof_received(self) -> bool | None:
        return None

    def pause_writing(self) -> None:
        self._paused_writes = True
        self._set_reading()

    def resume_writing(self) -> None:
        self._paused_writes = False
        self._set_reading()

    # -- httptools callbacks ---------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.request = Request(self.client)
        self._url = b""
        self._header_bytes = 0
        self._discarded = 0

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > self.server.max_header_bytes:
            raise _HeadersTooLarge

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self.request
        assert request is not None
        self._header_bytes += len(name) + len(value) + 4
        if self._header_bytes > self.server.max_header_bytes:
            raise _HeadersTooLarge
        request.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        request = self.request
        assert request is not None
        parser = self.parser
        request.method = parser.get_method().decode("ascii")
        request.http_version = parser.get_http_version()
        request.keep_alive = parser.should_keep_alive()
        request.head = request.method == "HEAD"
        url = httptools.parse_url(self._url)
        path = url.path.decode("latin-1")
        request.path = urllib.parse.unquote(path) if "%" in path else path
        request.query = url.query or b""
        limit = request.limit = self.handler.body_limit(request)
        expect = False
        for name, value in request.headers:
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    request.too_large = True
            elif name == b"expect" and value.lower() == b"100-continue":
                expect = True
        if expect and request.http_version == "1.1":
            if request.too_large:
                # answer before the body (the client waits for us); the connection closes
                # afterwards, as what the client sends next is unknown
                request.keep_alive = False
                request._early = True
                self._enqueue(request)
            elif self.current is None and not self.pending and self.transport is not None:
                self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def on_body(self, body: bytes) -> None:
        request = self.request
        assert request is not None
        if request.too_large:
            self._discarded += len(body)
            if self._discarded > MAX_DISCARD:
                request.keep_alive = False
            return
        request.size += len(body)
        if request.size > request.limit:
            request.too_large = True
            request._chunks = []
            return
        request._chunks.append(body)

    def on_message_complete(self) -> None:
        request = self.request
        assert request is not None
        self.request = None
        if request._early:
            return
        chunks = request._chunks
        if chunks:
            request.body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            request._chunks = []
        self._enqueue(request)

    # -- answering -------------------------------------------------------------------------
    def _enqueue(self, request: Request) -> None:
        self.pending.append(request)
        if len(self.pending) > MAX_PIPELINE and not self._paused_pipeline:
            self._paused_pipeline = True
            self._set_reading()
        if not self._dispatching and self.current is None:
            self._dispatch()

    def _dispatch(self) -> None:
        self._dispatching = True
        try:
            while self.current is None and self.pending and not self.closing:
                request = self.current = self.pending.popleft()
                try:
                    self.handler.handle(request, self)
                except Exception:
                    log.exception("handler failed on %s %s", request.method, request.path)
                    if self.current is request:
                        self.respond(
                            request,
                            500,
                            [],
                            b'{"message":"An unexpected internal error occurred."}',
                        )
        finally:
            self._dispatching = False
        if self._paused_pipeline and len(self.pending) <= MAX_PIPELINE // 2:
            self._paused_pipeline = False
            self._set_reading()
        self.server.idle_changed()

    def respond(
        self,
        request: Request,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        content_type: bytes | None = b"application/json",
    ) -> None:
        """Write the answer to ``request`` (ignored when the client has gone)."""
        if request is not self.current:
            return
        self.current = None
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        parts = [STATUS_LINES.get(status) or b"HTTP/1.1 %d \r\n" % status]
        if content_type is not None:
            parts += (b"content-type: ", content_type, b"\r\n")
        if status >= 200 and status != 204:
            parts += (b"content-length: ", str(len(body)).encode(), b"\r\n")
        parts.append(self.server.date_header)
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        keep_alive = request.keep_alive and not self.closing
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        elif request.http_version == "1.0":
            parts.append(b"connection: keep-alive\r\n")
        parts.append(b"\r\n")
        send_body = body and not request.head and status not in (204, 304)
        if send_body and len(body) <= JOIN_LIMIT:
            parts.append(body)
            transport.write(b"".join(parts))
        else:
            transport.write(b"".join(parts))
            if send_body:
                transport.write(body)
        self.last_active = self.server.now
        if not keep_alive:
            self.closing = True
            transport.close()
            return
        if self.pending and not self._dispatching:
            self._dispatch()
        elif not self.pending:
            self.server.idle_changed()

    def _fail(self, status: int) -> None:
        """A request that cannot be parsed: answer ``status`` and close."""
        transport = self.transport
        self.closing = True
        self.pending.clear()
        if transport is None or transport.is_closing():
            return
        message = (
            b"Request header fields too large."
            if status == 431
            else b"Invalid HTTP request received."
        )
        if self.current is None:
            transport.write(
                STATUS_LINES[status]
                + b"content-type: text/plain; charset=utf-8\r\ncontent-length: "
                + str(len(message)).encode()
                + b"\r\nconnection: close\r\n\r\n"
                + message
            )
        transport.close()

    def _set_reading(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        with contextlib.suppress(RuntimeError, AttributeError):
            if self._paused_pipeline or self._paused_writes:
                transport.pause_reading()
            else:
                transport.resume_reading()

    @property
    def idle(self) -> bool:
        """No request being parsed, answered or waiting."""
        return self.current is None and not self.pending and self.request is None

    def close_if_idle(self) -> None:
        if self.idle and self.transport is not None:
            self.closing = True
            self.transport.close()


class HttpServer:
    """Serves one :class:`Handler` on a TCP port, a Unix socket or a given socket."""

    def __init__(
        self, handler: Handler, *, keep_alive_s: float = 300.0, max_header_bytes: int = 65536
    ) -> None:
        self.handler = handler
        self.keep_alive_s = keep_alive_s
        self.max_header_bytes = max_header_bytes
        self.connections: set[ServerConnection] = set()
        self.date_header = b""
        self.now = 0.0
        self._server: asyncio.AbstractServer | None = None  # asyncio.Server or uvloop's
        self._ticker: asyncio.TimerHandle | None = None
        self._idle_waiter: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(
        self,
        *,
        host: str = "127.0.0.1",
        port: int | None = None,
        uds: str | None = None,
        sock: socket.socket | None = None,
        backlog: int = 4096,
    ) -> None:
        """Listen (OSError when the address is taken)."""
        loop = self._loop = asyncio.get_running_loop()
        self._tick()
        if sock is not None:
            self._server = await loop.create_server(
                lambda: ServerConnection(self), sock=sock, backlog=backlog
            )
        elif uds is not None:
            self._server = await loop.create_unix_server(
                lambda: ServerConnection(self), path=uds, backlog=backlog
            )
        else:
            self._server = await loop.create_server(
                lambda: ServerConnection(self),
                host=host,
                port=port or 0,
                backlog=backlog,
                reuse_address=True,
            )

    @property
    def port(self) -> int | None:
        """The TCP port listened on (None for a Unix socket)."""
        sockets = getattr(self._server, "sockets", None)
        if not sockets:
            return None
        name = sockets[0].getsockname()
        return int(name[1]) if isinstance(name, tuple) else None

    def _tick(self) -> None:
        """Once a second: refresh the Date header, close connections idle too long."""
        assert self._loop is not None
        self.now = self._loop.time()
        self.date_header = b"date: " + email.utils.formatdate(usegmt=True).encode() + b"\r\n"
        cutoff = self.now - self.keep_alive_s
        for connection in list(self.connections):
            if connection.last_active < cutoff and connection.idle:
                connection.close_if_idle()
        self._ticker = self._loop.call_later(1.0, self._tick)

    def idle_changed(self) -> None:
        waiter = self._idle_waiter
        if waiter is not None and not waiter.done() and all(c.idle for c in self.connections):
            waiter.set_result(None)

    async def close(self, grace: float = 10.0) -> None:
        """Stop accepting, wait up to ``grace`` seconds for in-flight requests, close all."""
        if self._server is not None:
            self._server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        for connection in list(self.connections):
            connection.close_if_idle()
        while any(not c.idle for c in self.connections) and loop.time() < deadline:
            self._idle_waiter = loop.create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle_waiter, max(0.0, deadline - loop.time()))
            for connection in list(self.connections):
                connection.close_if_idle()
        for connection in list(self.connections):
            if connection.transport is not None:
                connection.transport.close()
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A uvloop loop when uvloop is installed (it comes with ``uvicorn[standard]``)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def run_server(
    handler: Handler,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    uds: str | None = None,
    sock: socket.socket | None = None,
    grace: float = 30.0,
    on_started: Any = None,
) -> None:
    """Serve ``handler`` in this thread until SIGTERM or SIGINT, then close gracefully."""
    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    server = HttpServer(handler)
    stop = asyncio.Event()

    async def main() -> None:
        await server.start(host=host, port=port, uds=uds, sock=sock)
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        if on_started is not None:
            on_started(server)
        await stop.wait()
        await server.close(grace)

    try:
        loop.run_until_complete(main())
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()
