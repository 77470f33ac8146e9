"""Online endpoints end to end: a real host (gateways + worker processes), real HTTP on
loopback, a real model from the registry and real Azure-style score.py deployments.

One host serves the whole module (workers take a second or two to start); the tests run in
order and build on each other's deployments, as a user's session would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import modelworks as mw
from modelworks.endpoints.host import HostHandle, start_all
from modelworks.errors import ConflictError, UnauthenticatedError

pytestmark = pytest.mark.slow

COLUMNS = [f"f{i}" for i in range(6)]

SCORE_PY = """
import json, os, pickle, time

def init():
    global model
    with open(os.path.join(os.environ["AZUREML_MODEL_DIR"], "model", "model.pkl"), "rb") as f:
        model = pickle.load(f)
    print("green init: model loaded from", os.environ["AZUREML_MODEL_DIR"])

def run(raw_data):
    data = json.loads(raw_data)
    if data.get("explode"):
        raise RuntimeError("green was asked to explode")
    if data.get("sleep"):
        time.sleep(float(data["sleep"]))
        return "slept"
    rows = data["input_data"]["data"]
    return {"predictions": model.predict(rows).tolist(), "from": "green"}
"""


class State:
    ws: mw.Workspace
    handle: HostHandle
    key: str
    secondary: str
    rows: list[list[float]]
    expected: list[int]
    root: Path


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[State]:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from modelworks.registry import save_model

    root = tmp_path_factory.mktemp("endpoints")
    X, y = make_classification(n_samples=300, n_features=6, random_state=1)
    frame = pd.DataFrame(X, columns=COLUMNS)
    model = LogisticRegression(max_iter=300).fit(frame, y)
    save_model(model, root / "model", input_example=frame.head(3))
    ws = mw.Workspace(root / "ws")
    ws.models.register(str(root / "model"), name="clf")
    code = root / "green-code"
    code.mkdir()
    (code / "score.py").write_text(SCORE_PY)
    slow = root / "slow-code"
    slow.mkdir()
    (slow / "score.py").write_text(
        "import time\n\ndef init():\n    pass\n\ndef run(raw_data):\n"
        "    time.sleep(0.4)\n    return 'done'\n"
    )
    state = State()
    state.ws, state.root = ws, root
    state.rows = frame.head(5).to_numpy().tolist()
    state.expected = model.predict(frame.head(5)).tolist()
    state.handle = start_all(ws)
    yield state
    state.handle.stop()
    ws.close()


def _body(rows: list[list[float]], columns: list[str] = COLUMNS) -> dict[str, Any]:
    return {"input_data": {"columns": columns, "data": rows}}


def _post(state: State, body: Any, *, key: str | None = None, **headers: str) -> httpx.Response:
    endpoint = state.ws.online_endpoints.get("bank")
    sent = {"Authorization": f"Bearer {key or state.key}", **headers}
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(endpoint.scoring_uri, content=content, headers=sent, timeout=30)


def test_create_endpoint_and_no_code_deployment(env: State) -> None:
    started = time.perf_counter()
    endpoint = env.ws.online_endpoints.begin_create_or_update(
        {"name": "bank", "auth_mode": "key", "description": "risk scores"}
    ).result()
    assert endpoint.provisioning_state == "Succeeded"
    deployment = env.ws.online_deployments.begin_create_or_update(
        {
            "name": "blue",
            "endpoint_name": "bank",
            "model": "azureml:clf:1",
            "instance_count": 2,
            "request_settings": {
                "max_concurrent_requests_per_instance": 8,
                "max_request_body_bytes": 4096,
            },
        },
        all_traffic=True,
    ).result()
    assert deployment.provisioning_state == "Succeeded"
    assert len(deployment.runtime["instances"]) == 2
    keys = env.ws.online_endpoints.get_keys("bank")
    env.key, env.secondary = keys["primaryKey"], keys["secondaryKey"]
    first = _post(env, _body(env.rows))
    assert first.status_code == 200, first.text
    assert first.json()["predictions"] == env.expected
    assert first.headers["azureml-model-deployment"] == "blue"
    print(f"endpoint + deployment to first 200: {time.perf_counter() - started:.2f} s")
    assert env.ws.online_endpoints.get("bank").traffic == {"blue": 100}


def test_keys_are_shown_once_checked_and_regenerated(env: State) -> None:
    with pytest.raises(ConflictError, match="already shown once"):
        env.ws.online_endpoints.get_keys("bank")
    assert _post(env, _body(env.rows), key="wrong").status_code == 401
    endpoint = env.ws.online_endpoints.get("bank")
    missing = httpx.post(endpoint.scoring_uri, json=_body(env.rows))
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert _post(env, _body(env.rows), key=env.secondary).status_code == 200
    old = env.key
    env.key = env.ws.online_endpoints.regenerate_keys("bank", key_type="primary")["primaryKey"]
    assert _post(env, _body(env.rows), key=old).status_code == 401
    assert _post(env, _body(env.rows)).status_code == 200
    assert _post(env, _body(env.rows), key=env.secondary).status_code == 200
    with pytest.raises(UnauthenticatedError):
        env.ws.online_endpoints.invoke("bank", data=_body(env.rows), key=old)
    answer = json.loads(env.ws.online_endpoints.invoke("bank", data=_body(env.rows)))
    assert answer["predictions"] == env.expected


def test_bad_requests_get_named_4xx_and_ids_are_echoed(env: State) -> None:
    bad_json = _post(env, b"{not json")
    assert bad_json.status_code == 400 and "not valid JSON" in bad_json.json()["message"]
    wrong = _post(env, _body([r[:5] for r in env.rows], COLUMNS[:5]))
    assert wrong.status_code == 422 and "'f5'" in wrong.json()["message"]
    typed = _post(env, _body([["x", 1, 2, 3, 4, 5]]))
    assert typed.status_code == 422 and "Column 'f0'" in typed.json()["message"]
    too_big = _post(env, _body(env.rows * 40))
    assert too_big.status_code == 413
    traced = _post(
        env, _body(env.rows), **{"x-request-id": "req-42", "x-ms-client-request-id": "mine"}
    )
    assert traced.headers["x-request-id"] == "req-42"
    assert traced.headers["x-ms-client-request-id"] == "mine"
    assert len(_post(env, _body(env.rows)).headers["x-request-id"]) == 32
    endpoint = env.ws.online_endpoints.get("bank")
    metrics = httpx.get(endpoint.scoring_uri.replace("/score", "/metrics")).text
    assert (
        'modelworks_endpoint_requests_total{deployment="blue",endpoint="bank",status="422"}'
        in metrics
    )
    assert "modelworks_endpoint_request_duration_seconds_bucket" in metrics
    swagger = httpx.get(endpoint.openapi_uri).json()
    assert swagger["swagger"] == "2.0" and "/score" in swagger["paths"]


def _load(state: State, count: int, threads: int = 8) -> Counter[int]:
    """``count`` scoring requests over ``threads`` keep-alive connections; status counts."""
    endpoint = state.ws.online_endpoints.get("bank")
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    body = json.dumps(_body(state.rows[:1])).encode()
    remaining = [count]

    def worker() -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {state.key}"}, timeout=30) as client:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                try:
                    status = client.post(endpoint.scoring_uri, content=body).status_code
                except httpx.HTTPError:
                    status = -1
                with lock:
                    statuses[status] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return statuses


def test_blue_green_rollout_loses_no_request(env: State) -> None:
    env.ws.online_deployments.begin_create_or_update(
        {
            "name": "green",
            "endpoint_name": "bank",
            "model": "azureml:clf:1",
            "code_configuration": {
                "code": str(env.root / "green-code"),
                "scoring_script": "score.py",
            },
            "request_settings": {"max_concurrent_requests_per_instance": 8},
        }
    ).result()
    pinned = _post(env, _body(env.rows), **{"azureml-model-deployment": "green"})
    assert pinned.json() == {"predictions": env.expected, "from": "green"}
    unknown = _post(env, _body(env.rows), **{"azureml-model-deployment": "purple"})
    assert unknown.status_code == 404 and "blue, green" in unknown.json()["message"]

    result: dict[str, Counter[int]] = {}
    load = threading.Thread(target=lambda: result.update(statuses=_load(env, 1000)))
    load.start()
    time.sleep(0.2)
    env.ws.online_endpoints.update_traffic("bank", {"blue": 90, "green": 10})
    time.sleep(0.2)
    # a new generation of blue while it takes traffic: new workers warm up, then take over
    env.ws.online_deployments.begin_create_or_update(
        {
            "name": "blue",
            "endpoint_name": "bank",
            "model": "azureml:clf:1",
            "instance_count": 1,
            "request_settings": {
                "max_concurrent_requests_per_instance": 8,
                "max_request_body_bytes": 4096,
            },
        }
    ).result()
    env.ws.online_endpoints.update_traffic("bank", {"blue": 0, "green": 100})
    load.join()
    assert result["statuses"] == Counter({200: 1000})
    assert env.ws.online_deployments.get("blue", "bank").generation == 2
    assert _post(env, _body(env.rows)).headers["azureml-model-deployment"] == "green"


def test_failing_score_py_answers_424_and_logs_the_traceback(env: State) -> None:
    failed = _post(env, {"explode": True})
    assert failed.status_code == 424
    assert failed.headers["ms-azureml-model-error-statuscode"] == "500"
    assert "unexpected error occurred in scoring script" in failed.json()["message"]
    logs = env.ws.online_deployments.get_logs("green", "bank", lines=5000)
    assert "green was asked to explode" in logs and "green init: model loaded" in logs
    assert _post(env, _body(env.rows)).status_code == 200  # the worker keeps serving


def test_timeouts_and_concurrency_limits(env: State) -> None:
    env.ws.online_deployments.begin_create_or_update(
        {
            "name": "slow",
            "endpoint_name": "bank",
            "code_configuration": {
                "code": str(env.root / "slow-code"),
                "scoring_script": "score.py",
            },
            "request_settings": {
                "request_timeout_ms": 1500,
                "max_concurrent_requests_per_instance": 1,
                "max_queue_wait_ms": 50,
            },
        }
    ).result()
    pin = {"azureml-model-deployment": "slow"}
    answers: list[int] = []
    calls = [
        threading.Thread(target=lambda: answers.append(_post(env, {}, **pin).status_code))
        for _ in range(3)
    ]
    for call in calls:
        call.start()
    for call in calls:
        call.join()
    assert sorted(answers) == [200, 429, 429]
    env.ws.online_deployments.begin_create_or_update(
        {
            "name": "slow",
            "endpoint_name": "bank",
            "code_configuration": {
                "code": str(env.root / "slow-code"),
                "scoring_script": "score.py",
            },
            "request_settings": {"request_timeout_ms": 100},
        }
    ).result()
    timed_out = _post(env, {}, **pin)
    assert timed_out.status_code == 408 and "100 ms" in timed_out.json()["message"]


def test_a_killed_worker_is_restarted_and_the_endpoint_keeps_answering(env: State) -> None:
    env.ws.online_deployments.begin_create_or_update(
        {
            "name": "green",
            "endpoint_name": "bank",
            "model": "azureml:clf:1",
            "code_configuration": {
                "code": str(env.root / "green-code"),
                "scoring_script": "score.py",
            },
            "instance_count": 2,
            "request_settings": {"max_concurrent_requests_per_instance": 8},
        }
    ).result()
    before = env.ws.online_deployments.get("green", "bank").runtime
    victim = before["instances"][0]["pid"]
    result: dict[str, Counter[int]] = {}
    load = threading.Thread(target=lambda: result.update(statuses=_load(env, 600)))
    load.start()
    time.sleep(0.3)
    os.kill(victim, signal.SIGKILL)
    load.join()
    assert result["statuses"][200] >= 595, result["statuses"]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runtime = env.ws.online_deployments.get("green", "bank").runtime
        pids = [i["pid"] for i in runtime["instances"]]
        if (
            runtime["restarts"] >= 1
            and victim not in pids
            and all(i["healthy"] for i in runtime["instances"])
        ):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the killed worker was not restarted: {runtime}")
    assert _load(env, 50) == Counter({200: 50})


def test_schemathesis_finds_no_server_error(env: State) -> None:
    endpoint = env.ws.online_endpoints.get("bank")
    env.ws.online_endpoints.update_traffic("bank", {"blue": 100, "green": 0})
    st = Path(sys.executable).with_name("st")
    done = subprocess.run(
        [
            str(st),
            "run",
            f"{endpoint.openapi_uri}?version=3",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            "40",
            "-H",
            f"Authorization: Bearer {env.key}",
            "--phases",
            "examples,fuzzing",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=env.root,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_deleting_a_deployment_with_traffic_is_refused(env: State) -> None:
    with pytest.raises(ConflictError, match="still takes traffic"):
        env.ws.online_deployments.delete("blue", "bank")
    env.ws.online_deployments.delete("slow", "bank")
    assert {d.name for d in env.ws.online_deployments.list("bank")} == {"blue", "green"}


def test_endpoints_come_back_after_a_host_restart(env: State) -> None:
    endpoint = env.ws.online_endpoints.get("bank")
    env.handle.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.post(endpoint.scoring_uri, json=_body(env.rows), timeout=2)
    env.handle = start_all(env.ws)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            answer = _post(env, _body(env.rows))
            if answer.status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    assert answer.status_code == 200 and answer.json()["predictions"] == env.expected
    assert env.ws.online_endpoints.get("bank").port == endpoint.port


def test_package_writes_a_context_whose_entrypoint_serves(env: State, tmp_path: Path) -> None:
    import socket

    context = env.ws.online_deployments.package("green", "bank", tmp_path / "build")
    names = {p.name for p in context.iterdir()}
    assert {
        "Dockerfile",
        "requirements.txt",
        "entrypoint.sh",
        "deployment.json",
        "model",
        "code",
    } <= names
    assert (context / "model" / "model" / "MLmodel").is_file()
    assert "modelworks" in (context / "requirements.txt").read_text()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    environment = {**os.environ, "PORT": str(port), "PYTHON": sys.executable, "WORKER_COUNT": "1"}
    process = subprocess.Popen(["sh", str(context / "entrypoint.sh")], env=environment)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        scored = httpx.post(f"http://127.0.0.1:{port}/score", json=_body(env.rows), timeout=10)
        assert scored.json() == {"predictions": env.expected, "from": "green"}
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_cli_shows_invokes_and_deletes(env: State, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from modelworks.cli import app

    runner = CliRunner()
    location = env.ws.location
    shown = runner.invoke(
        app, ["-w", location, "online-endpoint", "show", "-n", "bank", "-o", "json"]
    )
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["scoring_uri"].endswith("/score")
    request = tmp_path / "sample.json"
    request.write_text(json.dumps(_body(env.rows)))
    invoked = runner.invoke(
        app,
        ["-w", location, "online-endpoint", "invoke", "-n", "bank", "--request-file", str(request)],
    )
    assert invoked.exit_code == 0 and json.loads(invoked.output)["predictions"] == env.expected
    traffic = runner.invoke(
        app,
        [
            "-w",
            location,
            "online-endpoint",
            "update",
            "-n",
            "bank",
            "--traffic",
            "blue=50 green=40",
        ],
    )
    assert traffic.exit_code == 1 and "add up to 100" in traffic.output
    logs = runner.invoke(
        app,
        [
            "-w",
            location,
            "online-deployment",
            "get-logs",
            "-n",
            "green",
            "-e",
            "bank",
            "--lines",
            "5",
        ],
    )
    assert logs.exit_code == 0
    deleted = runner.invoke(
        app, ["-w", location, "online-endpoint", "delete", "-n", "bank", "--yes"]
    )
    assert deleted.exit_code == 0, deleted.output
    assert env.ws.online_endpoints.list() == []
