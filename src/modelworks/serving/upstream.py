"""A small HTTP/1.1 client from the gateway to its workers, over Unix sockets or loopback TCP.

Each worker instance keeps a pool of idle keep-alive connections; a connection carries one
request at a time (the gateway bounds concurrency per instance, so the pool stays small).
Responses are parsed with ``httptools`` (the parser uvicorn uses). This replaces a general
client (httpx) on the hot path: the gateway adds tens of microseconds per request, not hundreds.

Errors: :class:`UpstreamError` when the worker cannot be reached or closes the connection
before answering (``sent`` says whether the request may have reached run());
:class:`TimeoutError` when no answer came in time (the connection is closed).
"""

from __future__ import annotations

import asyncio
import contextlib

import httptools

__all__ = ["Instance", "UpstreamError", "UpstreamResponse"]


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


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a worker."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[UpstreamResponse] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.closed = False
        self.reusable = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(
                UpstreamError("the worker closed the connection before answering", sent=True)
            )

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self.reusable = False
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(
                    UpstreamError(f"bad response from worker: {e}", sent=True)
                )
            if self.transport is not None:
                self.transport.close()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)

    def on_message_complete(self) -> None:
        self.reusable = self.parser.should_keep_alive()
        body = self.chunks[0] if len(self.chunks) == 1 else b"".join(self.chunks)
        response = UpstreamResponse(self.parser.get_status_code(), self.headers, body)
        self.headers = []
        self.chunks = []
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(response)

    def send(self, data: bytes) -> asyncio.Future[UpstreamResponse]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

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

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            if self.uds is not None:
                _, protocol = await loop.create_unix_connection(_Connection, self.uds)
            else:
                _, protocol = await loop.create_connection(_Connection, "127.0.0.1", self.port or 0)
        except OSError as e:
            raise UpstreamError(f"cannot connect to worker {self.label}: {e}", sent=False) from e
        return protocol

    async def request(
        self,
        method: str,
        target: str,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        timeout: float,
    ) -> UpstreamResponse:
        """Send one request and wait for the answer (at most ``timeout`` seconds)."""
        head = [
            f"{method} {target} HTTP/1.1\r\nhost: worker\r\ncontent-length: {len(body)}\r\n".encode()
        ]
        for name, value in headers:
            head.append(name + b": " + value + b"\r\n")
        head.append(b"\r\n")
        data = b"".join(head) + body
        fresh = False
        while True:
            connection = None
            while self._idle:
                candidate = self._idle.pop()
                if not candidate.closed:
                    connection = candidate
                    break
            if connection is None:
                connection = await self._connect()
                fresh = True
            waiter = connection.send(data)
            try:
                response = await asyncio.wait_for(waiter, timeout)
            except UpstreamError:
                connection.close()
                if fresh:
                    raise
                continue  # a pooled connection the worker had closed: once more on a new one
            except BaseException:
                connection.close()
                raise
            if connection.reusable and not connection.closed:
                self._idle.append(connection)
            else:
                connection.close()
            return response

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
