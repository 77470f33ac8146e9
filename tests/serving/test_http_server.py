"""The lean HTTP/1.1 server of the gateways and workers, over real sockets: keep-alive,
pipelining in order, chunked bodies, Expect: 100-continue, body limits, HEAD, HTTP/1.0,
malformed requests and a graceful close."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from modelworks.serving._http import HttpServer, Request, ServerConnection

LIMIT = 1024


class Echo:
    """Answers what it got; ``/slow?ms=N`` answers N ms later (from the event loop)."""

    def __init__(self) -> None:
        self.connections: set[int] = set()

    def body_limit(self, request: Request) -> int:
        return LIMIT

    def handle(self, request: Request, connection: ServerConnection) -> None:
        self.connections.add(id(connection))
        if request.too_large:
            connection.respond(request, 413, [], b'{"message":"too large"}')
            return
        answer = json.dumps(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query.decode(),
                "body": request.body.decode(),
                "ua": (request.header(b"user-agent") or b"").decode(),
            }
        ).encode()
        if request.path == "/slow":
            delay = int(request.query.decode().split("=")[1]) / 1000
            asyncio.get_running_loop().call_later(
                delay, connection.respond, request, 200, [(b"x-slow", b"1")], answer
            )
            return
        connection.respond(request, 200, [(b"x-echo", b"1")], answer)


class Running:
    def __init__(self) -> None:
        self.handler = Echo()
        self.loop = asyncio.new_event_loop()
        self.server = HttpServer(self.handler)
        self.port = 0
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(self.server.start(host="127.0.0.1", port=0))
            self.port = self.server.port or 0
            started.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        started.wait(10)

    def close(self, grace: float = 5.0) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(grace), self.loop).result(30)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def running() -> Iterator[Running]:
    server = Running()
    yield server
    server.stop()


def _raw(port: int, data: bytes, *, read_until_close: bool = True, wait: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        if not read_until_close:
            time.sleep(0.3)
            sock.setblocking(False)
            try:
                while chunk := sock.recv(65536):
                    chunks.append(chunk)
            except BlockingIOError:
                pass
            return b"".join(chunks)
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def _request(method: str, path: str, body: bytes = b"", *extra: str) -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: x", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_keep_alive_headers_and_one_connection(running: Running) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{running.port}") as client:
        first = client.post("/echo?x=1", content=b"hello", headers={"user-agent": "me"})
        second = client.get("/echo%20space")
    assert first.status_code == 200 and first.headers["x-echo"] == "1"
    assert first.json() == {
        "method": "POST",
        "path": "/echo",
        "query": "x=1",
        "body": "hello",
        "ua": "me",
    }
    assert first.headers["content-type"] == "application/json" and "date" in first.headers
    assert second.json()["path"] == "/echo space"
    assert len(running.handler.connections) == 1


def test_pipelined_requests_are_answered_in_order(running: Running) -> None:
    data = (
        _request("POST", "/slow?ms=150", b"first")
        + _request("POST", "/echo", b"second")
        + _request("POST", "/slow?ms=10", b"third", "Connection: close")
    )
    answer = _raw(running.port, data)
    bodies = [part for part in answer.split(b"\r\n\r\n")[1:] if part]
    order = [json.loads(b[: b.index(b"}") + 1])["body"] for b in bodies]
    assert order == ["first", "second", "third"]
    assert answer.count(b"HTTP/1.1 200 OK") == 3


def test_chunked_bodies_are_joined(running: Running) -> None:
    data = (
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    answer = _raw(running.port, data)
    assert b"200 OK" in answer and b'"body": "hello world"' in answer


def test_expect_continue_is_answered(running: Running) -> None:
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(
            _request("POST", "/echo", b"", "Expect: 100-continue").replace(
                b"Content-Length: 0", b"Content-Length: 4"
            )
        )
        assert sock.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b"body")
        assert b'"body": "body"' in sock.recv(65536)
    # too large for the limit: answered at once, without 100, and the connection closes
    big = _request("POST", "/echo", b"", "Expect: 100-continue").replace(
        b"Content-Length: 0", f"Content-Length: {LIMIT + 1}".encode()
    )
    answer = _raw(running.port, big)
    assert answer.startswith(b"HTTP/1.1 413") and b"100 Continue" not in answer
    assert b"connection: close" in answer


def test_an_oversized_body_is_read_and_refused_and_the_connection_stays(
    running: Running,
) -> None:
    data = _request("POST", "/echo", b"x" * (LIMIT * 3)) + _request(
        "POST", "/echo", b"ok", "Connection: close"
    )
    answer = _raw(running.port, data)
    assert answer.startswith(b"HTTP/1.1 413")
    assert b"HTTP/1.1 200 OK" in answer and b'"body": "ok"' in answer


def test_head_has_the_length_but_no_body(running: Running) -> None:
    answer = _raw(running.port, _request("HEAD", "/echo", b"", "Connection: close"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and body == b""
    length = int(head.split(b"content-length: ")[1].split(b"\r\n")[0])
    assert length > 0


def test_http_10_closes_unless_kept_alive(running: Running) -> None:
    plain = _raw(running.port, b"GET /echo HTTP/1.0\r\n\r\n")
    assert plain.startswith(b"HTTP/1.1 200 OK") and b"connection: close" in plain
    kept = _raw(
        running.port,
        b"GET /echo HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        read_until_close=False,
    )
    assert b"connection: keep-alive" in kept


def test_malformed_requests_get_400_and_huge_headers_431(running: Running) -> None:
    assert _raw(running.port, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400")
    huge = b"GET /echo HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    assert _raw(running.port, huge).startswith(b"HTTP/1.1 431")


def test_close_lets_in_flight_requests_finish(running: Running) -> None:
    result: dict[str, Any] = {}

    def slow() -> None:
        result["answer"] = httpx.post(
            f"http://127.0.0.1:{running.port}/slow?ms=400", content=b"late", timeout=10
        )

    caller = threading.Thread(target=slow)
    caller.start()
    time.sleep(0.15)
    running.close(grace=5)
    caller.join(10)
    assert result["answer"].status_code == 200 and result["answer"].json()["body"] == "late"
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{running.port}/echo", timeout=2)
