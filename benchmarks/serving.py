"""Serving benchmark: a modelworks online endpoint vs ``mlflow models serve`` vs a floor.

    apt-get install -y wrk                         # the load generator (Debian); optional
    .venv/bin/python benchmarks/serving.py         # ~12 minutes: 3 rounds of 10 s runs
    .venv/bin/python benchmarks/serving.py --quick # one round of 4 s runs (~2 minutes)

Model: LightGBM, 200 trees, 31 leaves, 20 numeric features, trained on make_classification
(50,000 rows, seed 0), saved once in MLflow's format and served by all three:

- **modelworks**: an online endpoint (gateway with key auth and the access log on) with one
  no-code deployment, ``instance_count`` 1 (``--instances`` to change);
- **mlflow**: ``mlflow models serve --env-manager local`` on the same model folder;
- **floor**: a minimal ASGI app under uvicorn (one process) that only parses the JSON and
  calls the Booster's predict: what any server must at least spend.

Load: ``wrk`` (Debian's package) with 8 and 32 keep-alive connections and bodies of 1 and 100
rows; without wrk, an async httpx load generator with the same connections (it is slower
than wrk, so absolute numbers drop; ratios stay comparable). The machine is shared and noisy,
so the servers take turns: in every round each case runs against the floor, modelworks and
MLflow back to back, and the figures are medians over the rounds.

Also measured, through the same endpoint with the deployment pinned by the
``azureml-model-deployment`` header: micro-batching (32 connections, 1 row) against the same
model without it, on the numpy fast path and on the DataFrame path
(``MODELWORKS_NO_FAST_PATH=1``, what models that need a DataFrame take); and
``online-deployment create`` of a no-code scikit-learn model until its first 200, through the
SDK and through the CLI (a new process), next to the time ``mlflow models serve`` takes to
answer ``/ping``; and the same CLI create *cold*, with no endpoint host running (the CLI
starts it, and it starts its zygote), as after a reboot. ``--create-only`` measures only the
create times (warm SDK, warm CLI, cold CLI; three of each, medians).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

COLUMNS = [f"f{i}" for i in range(20)]

FLOOR_APP = """
import os
import numpy as np, orjson, lightgbm as lgb
booster = lgb.Booster(model_file=os.environ["FLOOR_MODEL"])
COLS = [f"f{i}" for i in range(20)]

async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body, more = b"", True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    payload = orjson.loads(body)["input_data"]
    x = np.asarray(payload["data"], dtype=np.float64)
    out = orjson.dumps({"predictions": booster.predict(x, num_threads=1)}, option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(out)).encode())]})
    await send({"type": "http.response.body", "body": out})
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout: float = 120.0, headers: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2, headers=headers).status_code == 200:
                return time.perf_counter() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def body_for(rows: int) -> bytes:
    import numpy as np

    data = np.random.RandomState(1).randn(rows, 20).round(6).tolist()
    return json.dumps({"input_data": {"columns": COLUMNS, "data": data}}).encode()


# -- load generators ---------------------------------------------------------------------


def run_wrk(
    url: str,
    body: bytes,
    connections: int,
    seconds: int,
    key: str | None,
    deployment: str | None = None,
) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        escaped = body.decode().replace("\\", "\\\\").replace("'", "\\'")
        script.write(f"wrk.method = 'POST'\nwrk.body = '{escaped}'\n")
        script.write("wrk.headers['Content-Type'] = 'application/json'\n")
        if key:
            script.write(f"wrk.headers['Authorization'] = 'Bearer {key}'\n")
        if deployment:
            script.write(f"wrk.headers['azureml-model-deployment'] = '{deployment}'\n")
    threads = 2
    done = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    os.unlink(script.name)
    out = done.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(label: str) -> float:
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": pct("50"),
        "p99": pct("99"),
        "errors": float(errors.group(1)) if errors else 0.0,
    }


def run_httpx(
    url: str,
    body: bytes,
    connections: int,
    seconds: int,
    key: str | None,
    deployment: str | None = None,
) -> dict[str, float]:
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    if deployment:
        headers["azureml-model-deployment"] = deployment
    latencies: list[float] = []
    errors = 0

    async def one(client: httpx.AsyncClient, deadline: float) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            started = time.perf_counter()
            response = await client.post(url, content=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            errors += response.status_code >= 300

    async def main() -> float:
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            started = time.perf_counter()
            deadline = time.monotonic() + seconds
            await asyncio.gather(*(one(client, deadline) for _ in range(connections)))
            return time.perf_counter() - started

    elapsed = asyncio.run(main())
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
        "errors": float(errors),
    }


def load(
    url: str,
    body: bytes,
    connections: int,
    seconds: int,
    key: str | None = None,
    *,
    deployment: str | None = None,
) -> dict[str, float]:
    runner = run_wrk if shutil.which("wrk") else run_httpx
    runner(url, body, connections, max(1, seconds // 4), key, deployment)  # warm-up
    result = runner(url, body, connections, seconds, key, deployment)
    print(
        f"  {url}{' -> ' + deployment if deployment else ''} {len(body)} B x{connections}: "
        f"{result['rps']:.0f} req/s, p99 {result['p99']:.2f} ms",
        flush=True,
    )
    return result


# -- servers -----------------------------------------------------------------------------


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, env=env, stdout=handle, stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def summarise(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median over rounds of each figure."""
    return {key: median([r[key] for r in runs]) for key in runs[0]}


def first_200(url: str, body: bytes, key: str, started: float) -> float:
    answer = httpx.post(url, content=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return time.perf_counter() - started


def cli(*args: str, env: dict[str, str]) -> None:
    """Run ``modelworks *args`` in a new process (as a user would), failing loudly."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("modelworks")), *args], capture_output=True, env=env
    )
    if done.returncode:
        raise SystemExit(
            f"modelworks {' '.join(args)} failed:\n{done.stdout.decode()}{done.stderr.decode()}"
        )


def create_times(tmp: Path, env: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """``online-deployment create`` of a no-code scikit-learn model to its first 200: through
    the SDK and the CLI with a host running (warm), and through the CLI with none (cold)."""
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    import modelworks as mw
    from modelworks.endpoints.host import stop_host
    from modelworks.registry import save_model

    X, y = make_classification(n_samples=2_000, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=COLUMNS)
    save_model(
        LogisticRegression(max_iter=300).fit(frame, y), tmp / "sk", input_example=frame.head(3)
    )
    location = str(tmp / "create-ws")
    ws = mw.Workspace(location)
    ws.models.register(str(tmp / "sk"), name="sk")
    ws.online_endpoints.create_or_update({"name": "skbench"})
    key = ws.online_endpoints.get_keys("skbench")["primaryKey"]
    url = ws.online_endpoints.get("skbench").scoring_uri
    body = body_for(1)
    times: dict[str, list[float]] = {"sdk warm": [], "cli warm": [], "cli cold": []}
    for turn in range(rounds):
        for kind in ("cli cold", "cli warm", "sdk warm"):
            name = f"sk{kind.replace(' ', '')}{turn}"
            spec = tmp / f"{name}.yml"
            spec.write_text(f"name: {name}\nendpoint_name: skbench\nmodel: azureml:sk:1\n")
            if kind == "cli cold":
                stop_host(ws)
                time.sleep(1.0)  # the old host's processes are gone
            started = time.perf_counter()
            if kind == "sdk warm":
                ws.online_deployments.create_or_update(str(spec), all_traffic=True)
            else:
                cli(
                    "-w",
                    location,
                    "online-deployment",
                    "create",
                    "-f",
                    str(spec),
                    "--all-traffic",
                    env=env,
                )
            times[kind].append(first_200(url, body, key, started))
            print(f"  create to first 200, {kind}: {times[kind][-1]:.2f} s", flush=True)
            # one deployment at a time: a cold host would also bring back every earlier one
            ws.online_endpoints.update_traffic("skbench", {})
            ws.online_deployments.delete(name, "skbench")
    stop_host(ws)
    ws.close()
    return times


def report_create(times: dict[str, list[float]]) -> str:
    return "; ".join(
        f"{kind} {', '.join(f'{t:.2f}' for t in values)} s (median {median(values):.2f})"
        for kind, values in times.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="4 s runs, one round")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of turns (default 3)")
    parser.add_argument(
        "--instances", type=int, default=1, help="worker processes of the deployment"
    )
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument(
        "--create-only", action="store_true", help="only the create-to-first-200 times"
    )
    args = parser.parse_args()
    seconds = 4 if args.quick else 10
    rounds = args.rounds or (1 if args.quick else 3)
    if args.create_only:
        tmp = Path(tempfile.mkdtemp(prefix="mw-bench-create-"))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        print(f"load average at start: {os.getloadavg()[0]:.2f}", flush=True)
        times = create_times(tmp, env, args.rounds or 3)
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        print(
            f"online-deployment create (no-code scikit-learn) to first 200 (target < 3 s): {report_create(times)}"
        )
        shutil.rmtree(tmp, ignore_errors=True)
        return

    import lightgbm as lgb
    import pandas as pd
    from sklearn.datasets import make_classification

    import modelworks as mw
    from modelworks.endpoints.host import start_all
    from modelworks.registry import save_model

    tmp = Path(tempfile.mkdtemp(prefix="mw-bench-serving-"))
    print(
        f"working in {tmp}; load generator: {'wrk' if shutil.which('wrk') else 'httpx (wrk not installed)'}; "
        f"{rounds} round(s) of {seconds} s runs; load average at start: {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    X, y = make_classification(n_samples=50_000, n_features=20, random_state=0)
    frame = pd.DataFrame(X, columns=COLUMNS)
    model = lgb.LGBMClassifier(n_estimators=200, num_leaves=31, n_jobs=1, verbose=-1).fit(frame, y)
    save_model(model, tmp / "model", input_example=frame.head(5))
    model.booster_.save_model(str(tmp / "booster.txt"))
    bin_dir = str(Path(sys.executable).parent)  # mlflow serve runs `uvicorn` from PATH
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    runs: dict[str, list[dict[str, float]]] = {}
    cases = [(1, 8), (1, 32), (100, 8), (100, 32)]
    servers: list[subprocess.Popen[bytes]] = []

    ws = mw.Workspace(tmp / "ws")
    ws.models.register(str(tmp / "model"), name="lgbm")
    handle = start_all(ws)
    try:
        # -- modelworks: one endpoint, deployments pinned with azureml-model-deployment ------
        endpoint = ws.online_endpoints.create_or_update({"name": "bench"})
        settings = {"max_concurrent_requests_per_instance": 64, "max_queue_wait_ms": 5000}
        batching = {"max_batch_size": 32, "max_latency_ms": 2}
        no_fast = {"MODELWORKS_NO_FAST_PATH": "1"}
        variants: dict[str, dict[str, Any]] = {
            "plain": {},
            "batched": {"micro_batching": batching},
            "frame": {"environment_variables": no_fast},
            "framebatched": {"environment_variables": no_fast, "micro_batching": batching},
        }
        for name, extra in variants.items():
            ws.online_deployments.create_or_update(
                {
                    "name": name,
                    "endpoint_name": "bench",
                    "model": "azureml:lgbm:1",
                    "instance_count": args.instances,
                    "request_settings": settings,
                    **extra,
                },
                all_traffic=name == "plain",
            )
        key = ws.online_endpoints.get_keys("bench")["primaryKey"]

        # -- the floor -------------------------------------------------------------------
        (tmp / "floor_app.py").write_text(FLOOR_APP)
        floor_port = free_port()
        servers.append(
            start(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "floor_app:app",
                    "--port",
                    str(floor_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                    "--loop",
                    "uvloop",
                    "--http",
                    "httptools",
                    "--app-dir",
                    str(tmp),
                    "--workers",
                    str(args.instances),
                ],
                {**env, "FLOOR_MODEL": str(tmp / "booster.txt")},
                tmp / "floor.log",
            )
        )
        floor_url = f"http://127.0.0.1:{floor_port}/score"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.post(floor_url, content=body_for(1), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

        # -- mlflow models serve -----------------------------------------------------------
        mlflow_ping = float("nan")
        mlflow_url = ""
        if not args.skip_mlflow:
            port = free_port()
            started = time.perf_counter()
            servers.append(
                start(
                    [
                        sys.executable,
                        "-m",
                        "mlflow",
                        "models",
                        "serve",
                        "-m",
                        str(tmp / "model"),
                        "--env-manager",
                        "local",
                        "-p",
                        str(port),
                        "-h",
                        "127.0.0.1",
                    ],
                    env,
                    tmp / "mlflow.log",
                )
            )
            wait_ready(f"http://127.0.0.1:{port}/ping", timeout=180)
            mlflow_ping = time.perf_counter() - started
            mlflow_url = f"http://127.0.0.1:{port}/invocations"

        # -- load: the servers take turns in every round, so load from other processes on
        #    this shared machine falls on all of them alike -------------------------------
        for round_ in range(rounds):
            print(f"round {round_ + 1} (load average {os.getloadavg()[0]:.2f})", flush=True)
            for rows, conns in cases:
                tag = f"{rows}r/{conns}c"
                body = body_for(rows)
                runs.setdefault(f"floor {tag}", []).append(load(floor_url, body, conns, seconds))
                runs.setdefault(f"modelworks {tag}", []).append(
                    load(endpoint.scoring_uri, body, conns, seconds, key)
                )
                if mlflow_url:
                    mlflow_body = json.dumps(
                        {"dataframe_split": json.loads(body)["input_data"]}
                    ).encode()
                    runs.setdefault(f"mlflow {tag}", []).append(
                        load(mlflow_url, mlflow_body, conns, seconds)
                    )
            for name in variants:
                runs.setdefault(f"modelworks {name} 1r/32c", []).append(
                    load(endpoint.scoring_uri, body_for(1), 32, seconds, key, deployment=name)
                )

        cli_alone = time.perf_counter()
        subprocess.run(
            [str(Path(sys.executable).with_name("modelworks")), "--help"],
            check=True,
            capture_output=True,
            env=env,
        )
        cli_alone = time.perf_counter() - cli_alone
    finally:
        handle.stop()
        for server in servers:
            stop(server)
    creates = create_times(tmp, env, rounds)

    results = {name: summarise(values) for name, values in runs.items()}
    print()
    print(f"medians over {rounds} round(s); load average at the end: {os.getloadavg()[0]:.2f}")
    print(
        f"{'server / payload / connections':34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
    )
    for name, r in results.items():
        print(f"{name:34} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['errors']:8.0f}")
    print()
    print("ratios (targets from issue 6):")
    for rows, conns in cases:
        tag = f"{rows}r/{conns}c"
        ours, fl = results[f"modelworks {tag}"], results[f"floor {tag}"]
        line = (
            f"  {tag:8} floor/modelworks throughput {fl['rps'] / ours['rps']:.2f}x (target <= 1.5)"
        )
        if f"mlflow {tag}" in results:
            ml = results[f"mlflow {tag}"]
            line += (
                f"; modelworks/mlflow throughput {ours['rps'] / ml['rps']:.1f}x (target >= 10 at 1 row), "
                f"p99 {ours['p99']:.1f} vs {ml['p99']:.1f} ms = 1/{ml['p99'] / ours['p99']:.1f} (target <= 1/5)"
            )
        print(line)
    plain = results["modelworks plain 1r/32c"]["rps"]
    frame_plain = results["modelworks frame 1r/32c"]["rps"]
    print(
        "  micro-batching, 1 row, 32 connections (target >= 3x): DataFrame path "
        f"{results['modelworks framebatched 1r/32c']['rps'] / frame_plain:.2f}x; "
        f"numpy fast path {results['modelworks batched 1r/32c']['rps'] / plain:.2f}x "
        f"(unbatched fast path = {plain / frame_plain:.1f}x the unbatched DataFrame path)"
    )
    print(
        f"  online-deployment create (no-code scikit-learn) to first 200 (target < 3 s): "
        f"{report_create(creates)}; starting the CLI alone (`modelworks --help`): "
        f"{cli_alone:.2f} s; mlflow models serve to /ping: {mlflow_ping:.2f} s"
    )
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
