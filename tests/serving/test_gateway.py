"""The endpoint gateway in front of real worker apps, in one process: real HTTP on loopback
and Unix sockets, a real LightGBM model and a real score.py. What the end-to-end endpoint
tests cover through the host, here at the gateway's level: request ids reaching the worker,
424 for a failing run(), retry on an unreachable instance, timeouts that leave the
deployment usable, public routes, HEAD, metrics, mirror copies and the access log."""

from __future__ import annotations

import asyncio
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from modelworks.serving._auth import hash_key, mint_token
from modelworks.serving._http import HttpServer
from modelworks.serving.app import ScoringApp
from modelworks.serving.gateway import AccessLog, EndpointGateway, Route
from modelworks.serving.upstream import Instance
from modelworks.serving.worker import build_scorer

KEY = "the-key"

SCRIPT = """
import json, time

def init():
    pass

def run(raw_data, request_headers):
    data = json.loads(raw_data)
    if data.get("explode"):
        raise RuntimeError("asked to explode")
    if data.get("sleep"):
        time.sleep(float(data["sleep"]))
    return {"request_id": request_headers.get("X-Request-Id"), "auth": request_headers.get("Authorization")}
"""


class Harness:
    """A gateway on a TCP port and worker apps on Unix sockets, in one background loop."""

    def __init__(self, tmp: Path, apps: dict[str, ScoringApp]) -> None:
        self.loop = asyncio.new_event_loop()
        self.gateway = EndpointGateway("ep", access_log=AccessLog(tmp / "access.log"))
        self.gateway.set_auth("key", [hash_key(KEY)], "secret")
        self.servers: list[HttpServer] = []
        self.sockets = {name: str(tmp / f"{name}.sock") for name in apps}
        self.port = 0
        ready = threading.Event()

        async def start() -> None:
            for name, app in apps.items():
                server = HttpServer(app)
                await server.start(uds=self.sockets[name])
                self.servers.append(server)
            front = HttpServer(self.gateway)
            await front.start(host="127.0.0.1", port=0)
            self.servers.append(front)
            self.port = front.port or 0

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.run_until_complete(start())
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(*args)`` in the gateway's loop (routes and traffic live there)."""
        done: dict[str, Any] = {}
        event = threading.Event()

        def go() -> None:
            done["value"] = fn(*args)
            event.set()

        self.loop.call_soon_threadsafe(go)
        event.wait(10)
        return done.get("value")

    def route(self, name: str, sockets: list[str], **settings: Any) -> Route:
        route = Route(name, [Instance(uds=s, label=s) for s in sockets], **settings)
        self.call(self.gateway.set_route, route)
        return route

    def stop(self) -> None:
        async def close() -> None:
            for server in self.servers:
                await server.close(1.0)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lgbm_dir: Path) -> Iterator[Harness]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "score.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AML_APP_ROOT", str(code))
    model_app = ScoringApp(build_scorer(model_dir=lgbm_dir), max_body_bytes=4096)
    script_app = ScoringApp(build_scorer(entry_script=code / "score.py"))
    running = Harness(tmp_path, {"model": model_app, "script": script_app})
    yield running
    running.stop()


def _rows(numeric_data: tuple) -> dict[str, Any]:
    X, _, columns = numeric_data
    return {"input_data": {"columns": columns, "data": X.head(3).to_numpy().tolist()}}


def test_keys_routing_and_request_ids(harness: Harness, numeric_data: tuple) -> None:
    harness.route("blue", [harness.sockets["model"]], max_concurrent=4)
    harness.route("green", [harness.sockets["script"]], max_concurrent=4)
    harness.call(harness.gateway.set_traffic, {"blue": 100})
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=harness.url, timeout=10) as client:
        assert client.post("/score", json=_rows(numeric_data)).status_code == 401
        wrong = client.post(
            "/score", json=_rows(numeric_data), headers={"Authorization": "Bearer x"}
        )
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        ok = client.post(
            "/score", json=_rows(numeric_data), headers={**auth, "x-ms-client-request-id": "c-1"}
        )
        assert ok.status_code == 200 and len(ok.json()["predictions"]) == 3
        assert ok.headers["azureml-model-deployment"] == "blue"
        assert (
            ok.headers["x-ms-client-request-id"] == "c-1" and len(ok.headers["x-request-id"]) == 32
        )
        # the id the caller sees is the one the scoring code saw; the key is not forwarded
        pinned = client.post(
            "/score", json={}, headers={**auth, "azureml-model-deployment": "green"}
        )
        assert pinned.json() == {"request_id": pinned.headers["x-request-id"], "auth": None}
        mine = client.post(
            "/score",
            json={},
            headers={**auth, "azureml-model-deployment": "green", "x-request-id": "req-7"},
        )
        assert mine.json()["request_id"] == "req-7" == mine.headers["x-request-id"]
        unknown = client.post("/score", json={}, headers={**auth, "azureml-model-deployment": "x"})
        assert unknown.status_code == 404 and "blue, green" in unknown.json()["message"]
        token, _ = mint_token("ep", "secret")
        by_token = client.post(
            "/score", json=_rows(numeric_data), headers={"Authorization": f"Bearer {token}"}
        )
        assert by_token.status_code == 200


def test_failing_run_is_424_and_public_routes_need_no_key(harness: Harness) -> None:
    harness.route("green", [harness.sockets["script"]], max_concurrent=4)
    harness.call(harness.gateway.set_traffic, {"green": 100})
    with httpx.Client(base_url=harness.url, timeout=10) as client:
        failed = client.post(
            "/score", json={"explode": True}, headers={"Authorization": f"Bearer {KEY}"}
        )
        assert failed.status_code == 424
        assert failed.headers["ms-azureml-model-error-statuscode"] == "500"
        assert "unexpected error occurred in scoring script" in failed.json()["message"]
        health = client.get("/")
        assert (health.status_code, health.text) == (200, "Healthy")
        head = client.head("/")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len("Healthy")
        assert client.get("/swagger.json").json()["swagger"] == "2.0"


def test_an_unreachable_instance_is_retried_on_another(
    harness: Harness, numeric_data: tuple, tmp_path: Path
) -> None:
    dead = str(tmp_path / "nobody-listens.sock")
    harness.route("blue", [dead, harness.sockets["model"]], max_concurrent=4)
    harness.call(harness.gateway.set_traffic, {"blue": 100})
    with httpx.Client(base_url=harness.url, timeout=10) as client:
        answers = [
            client.post(
                "/score", json=_rows(numeric_data), headers={"Authorization": f"Bearer {KEY}"}
            ).status_code
            for _ in range(6)
        ]
    assert answers == [200] * 6
    lonely = harness.route("lonely", [dead], max_concurrent=4)
    assert lonely.in_flight == 0
    with httpx.Client(base_url=harness.url, timeout=10) as client:
        gone = client.post(
            "/score",
            json={},
            headers={"Authorization": f"Bearer {KEY}", "azureml-model-deployment": "lonely"},
        )
    assert gone.status_code == 408 and "could not be reached" in gone.json()["message"]
    assert lonely.in_flight == 0 and lonely.instances[0].in_flight == 0


def test_timeouts_and_busy_instances_free_their_slots(harness: Harness) -> None:
    route = harness.route(
        "green",
        [harness.sockets["script"]],
        max_concurrent=1,
        max_queue_wait_ms=50,
        request_timeout_ms=200,
    )
    harness.call(harness.gateway.set_traffic, {"green": 100})
    auth = {"Authorization": f"Bearer {KEY}"}
    statuses: list[int] = []

    def slow() -> None:
        statuses.append(
            httpx.post(
                f"{harness.url}/score", json={"sleep": 0.5}, headers=auth, timeout=10
            ).status_code
        )

    calls = [threading.Thread(target=slow) for _ in range(2)]
    for call in calls:
        call.start()
        time.sleep(0.02)
    for call in calls:
        call.join()
    assert sorted(statuses) == [408, 429]
    time.sleep(0.5)  # the worker finishes the abandoned run()
    assert route.in_flight == 0
    after = httpx.post(f"{harness.url}/score", json={}, headers=auth, timeout=10)
    assert after.status_code == 200


def test_metrics_mirror_copies_and_access_log(
    harness: Harness, numeric_data: tuple, tmp_path: Path
) -> None:
    harness.route("blue", [harness.sockets["model"]], max_concurrent=8)
    harness.route("green", [harness.sockets["script"]], max_concurrent=8)
    harness.call(harness.gateway.set_traffic, {"blue": 100}, {"green": 100})
    with httpx.Client(base_url=harness.url, timeout=10) as client:
        for _ in range(5):
            assert (
                client.post(
                    "/score", json=_rows(numeric_data), headers={"Authorization": f"Bearer {KEY}"}
                ).status_code
                == 200
            )
        client.post("/score", content=b"{oops", headers={"Authorization": f"Bearer {KEY}"})
        time.sleep(0.3)
        metrics = client.get("/metrics").text
    assert (
        'modelworks_endpoint_requests_total{deployment="blue",endpoint="ep",status="200"} 5.0'
        in metrics
    )
    assert (
        'modelworks_endpoint_requests_total{deployment="blue",endpoint="ep",status="400"} 1.0'
        in metrics
    )
    assert (
        'modelworks_endpoint_request_duration_seconds_count{deployment="blue",endpoint="ep"} 6.0'
        in metrics
    )
    assert 'modelworks_endpoint_requests_in_flight{deployment="blue",endpoint="ep"} 0.0' in metrics
    # the mirror got a copy of each scoring request; the script answers 200 to the rows body
    assert (
        'modelworks_endpoint_mirror_requests_total{deployment="green",endpoint="ep",status="200"} 5.0'
        in metrics
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = (
            (tmp_path / "access.log").read_text().splitlines()
            if (tmp_path / "access.log").exists()
            else []
        )
        if len(lines) >= 7:
            break
        time.sleep(0.1)
    assert any('"POST /score" 400' in line and "deployment=blue" in line for line in lines)
    assert sum('"POST /score" 200' in line for line in lines) == 5
