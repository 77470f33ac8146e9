"""A small HTTP/1.1 client from the gateway to its workers, over Unix sockets or loopback TCP.

Each worker instance keeps a pool of idle keep-alive connections; a connection carries one
request at a time (the gateway bounds concurrency per instance, so the pool stays small).
Responses are parsed with ``httptools``. The gateway's hot path is callback-based —
:meth:`Instance.send` calls back once with the response or an error, no Task or Future per
request — and :meth:`Instance.request` wraps it for code that awaits (probes, mirrors).

Errors: :class:`UpstreamError` when the worker cannot be reached or closes the connection
before answering (``sent`` says whether the request may have reached run()). A pooled
connection that the worker had already closed is retried once on a new connection. Timeouts
are the caller's: :meth:`Call.cancel` closes the connection, so a late answer is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import httptools

__all__ = ["Call", "Instance", "UpstreamError", "UpstreamResponse", "encode_request", "probe"]

Callback = Callable[["UpstreamResponse | None", "UpstreamError | None"], None]


class UpstreamError(Exception):
    """The worker could not be reached, or closed the connection without an answer."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent


class UpstreamResponse:
    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def encode_request(
    method: str, target: str, headers: list[tuple[bytes, bytes]], body: bytes
) -> bytes:
    """The bytes of one HTTP/1.1 request to a worker."""
    parts = [
        f"{method} {target} HTTP/1.1\r\nhost: worker\r\ncontent-length: {len(body)}\r\n".encode()
    ]
    for name, value in headers:
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)


class Call:
    """One request in flight to one instance."""

    __slots__ = ("connection", "data", "done", "fresh", "instance", "on_done")

    def __init__(self, instance: Instance, data: bytes, on_done: Callback) -> None:
        self.instance = instance
        self.data = data
        self.on_done: Callback | None = on_done
        self.connection: _Connection | None = None
        self.fresh = False
        self.done = False

    def cancel(self) -> None:
        """Give up on the answer (a timeout): the connection is closed, no callback follows."""
        self.on_done = None
        self.done = True
        if self.connection is not None:
            self.connection.close()

    def _finish(self, response: UpstreamResponse | None, error: UpstreamError | None) -> None:
        if self.done:
            return
        self.done = True
        callback = self.on_done
        self.on_done = None
        if callback is not None:
            callback(response, error)


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a worker."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.call: Call | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.closed = False
        self.received = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        call, self.call = self.call, None
        if call is not None:
            self.instance._lost(call, self, self.received)

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            call, self.call = self.call, None
            self.close()
            if call is not None:
                call._finish(None, UpstreamError(f"bad response from worker: {e}", sent=True))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        chunks = self.chunks
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        response = UpstreamResponse(self.parser.get_status_code(), self.headers, body)
        self.headers = []
        self.chunks = []
        call, self.call = self.call, None
        if self.parser.should_keep_alive() and not self.closed:
            self.instance._idle.append(self)
        else:
            self.close()
        if call is not None:
            call._finish(response, None)

    def send(self, call: Call) -> None:
        assert self.transport is not None
        self.call = call
        self.received = False
        call.connection = self
        self.transport.write(call.data)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class Instance:
    """One worker process as the gateway sees it: where it listens, and its connections."""

    def __init__(self, *, uds: str | None = None, port: int | None = None, label: str = "") -> None:
        self.uds = uds
        self.port = port
        self.label = label
        self.in_flight = 0
        self.healthy = True
        self._idle: list[_Connection] = []
        self._connecting: set[asyncio.Task[None]] = set()

    def send(self, data: bytes, on_done: Callback) -> Call:
        """Send one encoded request; ``on_done(response, error)`` is called once."""
        call = Call(self, data, on_done)
        idle = self._idle
        while idle:
            connection = idle.pop()
            if not connection.closed:
                connection.send(call)
                return call
        self._open(call)
        return call

    def _open(self, call: Call) -> None:
        call.fresh = True
        task = asyncio.get_running_loop().create_task(self._connect_and_send(call))
        self._connecting.add(task)
        task.add_done_callback(self._connecting.discard)

    async def _connect_and_send(self, call: Call) -> None:
        loop = asyncio.get_running_loop()
        try:
            if self.uds is not None:
                _, connection = await loop.create_unix_connection(
                    lambda: _Connection(self), self.uds
                )
            else:
                _, connection = await loop.create_connection(
                    lambda: _Connection(self), "127.0.0.1", self.port or 0
                )
        except OSError as e:
            call._finish(
                None, UpstreamError(f"cannot connect to worker {self.label}: {e}", sent=False)
            )
            return
        if call.done:  # cancelled while connecting
            connection.close()
            return
        connection.send(call)

    def _lost(self, call: Call, connection: _Connection, received: bool) -> None:
        """``connection`` closed while ``call`` waited on it."""
        if call.done:
            return
        if not call.fresh and not received:
            # a pooled connection the worker had closed: once more on a new one
            call.connection = None
            self._open(call)
            return
        call._finish(
            None, UpstreamError("the worker closed the connection before answering", sent=True)
        )

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeout: float,
    ) -> UpstreamResponse:
        """Send one request and wait for the answer (TimeoutError after ``timeout`` s)."""
        future: asyncio.Future[UpstreamResponse] = asyncio.get_running_loop().create_future()

        def done(response: UpstreamResponse | None, error: UpstreamError | None) -> None:
            if future.done():
                return
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(response)  # type: ignore[arg-type]

        call = self.send(encode_request(method, target, headers, body), done)
        try:
            return await asyncio.wait_for(future, timeout)
        except BaseException:
            call.cancel()
            raise

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def get(self, path: str, timeout: float) -> UpstreamResponse:
        return await self.request("GET", path, [], b"", timeout)

    def __repr__(self) -> str:
        return f"Instance({self.label or self.uds or self.port!r}, in_flight={self.in_flight})"


async def probe(instance: Instance, path: str, timeout: float) -> bool:
    """Whether ``GET path`` answers 200 within ``timeout`` seconds."""
    with contextlib.suppress(UpstreamError, TimeoutError, OSError):
        response = await instance.get(path, timeout)
        return response.status == 200
    return False
