"""The REST adapters' HTTP behaviour: unreachable servers, foreign error pages, retries,
path-segment encoding and use after fork. Real sockets and real server processes throughout."""

from __future__ import annotations

import http.server
import multiprocessing
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from _live_server import LiveServer, free_port
from modelworks.errors import (
    InvalidInputError,
    ModelworksError,
    NotFoundError,
    StoreUnavailableError,
)
from modelworks.server.paths import SegmentConvertor
from modelworks.store import open_blobs, open_metadata
from modelworks.store.rest import RestBlobStore, RestMetadataStore
from modelworks.store.rest._http import seg


# -- path segments ------------------------------------------------------------------------------
@given(st.text())
def test_segments_round_trip_and_never_split(value: str) -> None:
    encoded = seg(value)
    assert "/" not in encoded and encoded not in (".", "..")
    assert unquote(encoded) == value
    assert SegmentConvertor().convert(encoded) == value


# -- unreachable and foreign servers ------------------------------------------------------------
def test_unreachable_server_raises_store_unavailable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    store = RestMetadataStore(url, token="mw_x")
    with pytest.raises(StoreUnavailableError, match="is `modelworks server` running") as info:
        store.list_experiments()
    assert f"Cannot reach the modelworks server at {url}" in info.value.message
    with pytest.raises(StoreUnavailableError):
        RestBlobStore(url).exists("a" * 64)


def test_bad_url_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="not a usable server URL"):
        RestMetadataStore("http://host:abc").list_experiments()
    with pytest.raises(InvalidInputError, match="not a usable server URL"):
        RestBlobStore("ftp://host").exists("a" * 64)


class _Scripted(http.server.BaseHTTPRequestHandler):
    """Answers from a script keyed by path; ``drop`` closes the connection without answering."""

    script: dict[str, list[tuple[int, str, bytes] | str]] = {}
    seen: list[str] = []

    def _answer(self) -> None:
        type(self).seen.append(f"{self.command} {self.path}")
        length = int(self.headers.get("content-length") or 0)
        if length:
            self.rfile.read(length)
        steps = type(self).script.get(self.path.split("?")[0], [])
        step = steps.pop(0) if len(steps) > 1 else (steps[0] if steps else (404, "text/plain", b""))
        if step == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        assert not isinstance(step, str)
        status, content_type, body = step
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_HEAD = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[tuple[str, type[_Scripted]]]:
    handler = type("Handler", (_Scripted,), {"script": {}, "seen": []})
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_foreign_error_pages_become_modelworks_errors(
    scripted: tuple[str, type[_Scripted]],
) -> None:
    url, handler = scripted
    handler.script["/api/v1/experiments"] = [(502, "text/html", b"<html>Bad Gateway</html>")]
    handler.script["/api/v1/runs/r1"] = [(500, "text/plain", b"boom")]
    handler.script["/api/v1/runs/r2"] = [(404, "application/json", b'{"detail": "Not Found"}')]
    store = RestMetadataStore(url)
    with pytest.raises(StoreUnavailableError, match="HTTP 502"):
        store.list_experiments()
    with pytest.raises(ModelworksError, match=r"HTTP 500 from GET .*: boom") as info:
        store.get_run("r1")
    assert type(info.value) is ModelworksError
    with pytest.raises(NotFoundError, match="Not Found"):
        store.get_run("r2")


def test_dropped_connections_are_retried_only_when_safe(
    scripted: tuple[str, type[_Scripted]],
) -> None:
    url, handler = scripted
    run = b'{"id":"r","experiment_id":"e","name":"n","status":"Running","created_at":1}'
    handler.script["/api/v1/runs/r"] = ["drop", (200, "application/json", run)]
    handler.script["/api/v1/runs/r/log-batch"] = ["drop", (204, "text/plain", b"")]
    store = RestMetadataStore(url)
    assert store.get_run("r").name == "n"  # GET is idempotent: retried after the drop
    with pytest.raises(StoreUnavailableError):
        store.log_batch("r", params={"a": "1"})  # appending twice would be wrong: not retried
    assert handler.seen.count("GET /api/v1/runs/r") == 2
    assert handler.seen.count("POST /api/v1/runs/r/log-batch") == 1


# -- a real server ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with LiveServer(tmp_path_factory.mktemp("rest-ws")) as server:
        yield server


def _child_lists(store: RestMetadataStore, queue: multiprocessing.Queue[object]) -> None:
    try:
        queue.put([e.name for e in store.list_experiments()])
    except Exception as e:  # noqa: BLE001 - reported to the parent
        queue.put(repr(e))


def test_store_keeps_working_in_a_forked_child(live: LiveServer) -> None:
    store = open_metadata(live.url, token=live.admin_token)
    assert isinstance(store, RestMetadataStore) and store.uri == live.url
    store.create_experiment("before-fork")
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[object] = context.Queue()
    child = context.Process(target=_child_lists, args=(store, queue))
    child.start()
    result = queue.get(timeout=60)
    child.join(timeout=60)
    assert result == ["before-fork"]
    assert [e.name for e in store.list_experiments()] == ["before-fork"]


def test_open_blobs_picks_the_rest_adapter(live: LiveServer, tmp_path: Path) -> None:
    blobs = open_blobs(live.url + "/", token=live.admin_token)
    assert isinstance(blobs, RestBlobStore) and blobs.uri == live.url
    src = tmp_path / "f.txt"
    src.write_bytes(b"hello")
    entry = blobs.put_file(str(src))
    assert blobs.exists(entry.digest)


def test_many_threads_share_one_store(live: LiveServer) -> None:
    store = RestMetadataStore(live.url, token=live.admin_token)
    exp = store.create_experiment(f"threads-{time.time_ns()}")
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            run = store.create_run(exp.id, name=f"t{i}")
            assert store.get_run(run.id).name == f"t{i}"
        except BaseException as e:  # noqa: BLE001 - collected for the assertion below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.search_runs([exp.id]).items) == 16
