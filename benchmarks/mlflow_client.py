"""The stock MLflow client against `mlflow server` and against `modelworks server`, one run.

    .venv/bin/python benchmarks/mlflow_client.py            # full sizes (a few minutes)
    .venv/bin/python benchmarks/mlflow_client.py --quick    # fewer runs and calls

Both servers are started in this run, each on its own SQLite database, and the very same
client code (``mlflow.log_metric``, ``MlflowClient.log_batch``, ``MlflowClient.search_runs``)
is timed against each; the ratio column is what the issue's targets are stated in. Timings on
a shared machine are noisy, so each figure is a median over rounds in which the servers take
turns (load from other processes then falls on both alike). Each server is started alone;
ours three times (the first on a fresh workspace), reporting the first and the best start.

A third server that answers every call at once with a canned reply gives the MLflow client's
own cost per call ("client alone"): no server can be faster than that, so it bounds every
ratio (for ``log_metric`` the client alone costs a few milliseconds of Python per call).

Seeding for the search: both databases get the same 10,000 runs (a metric ``auc``, a param
``C`` and the ``mlflow.runName`` / ``mlflow.user`` tags each). MLflow's is written in bulk through its own SQLAlchemy ORM models
(``mlflow.store.tracking.dbmodels``) into the server's database file, because seeding it
through its server would take most of an hour; ours through ``MetadataStore.create_runs`` /
``log_batch`` on the server's database. Only the searches themselves are timed, over HTTP.
MLflow's client telemetry is switched off for both (it is client-side and identical).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process and its children have used so far."""
    import psutil

    total = 0.0
    for proc in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def wait_first_200(url: str, proc: subprocess.Popen[bytes], started: float) -> float:
    """Seconds from ``started`` (just before Popen) to the first 200 from ``url``."""
    while time.perf_counter() - started < 300:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                elapsed = time.perf_counter() - started
                START_CPU[url] = min(START_CPU.get(url, float("inf")), cpu_seconds(proc.pid))
                return elapsed
        except httpx.HTTPError:
            pass
        time.sleep(0.01)
    raise TimeoutError(url)


#: CPU seconds each server had used when it first answered (by health URL): unlike the wall
#: time, it hardly depends on what else the machine is running.
START_CPU: dict[str, float] = {}


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, ...]] = []

    def add(
        self, what: str, mw_s: float, ml_s: float, unit: str, target: float, floor_s: float | None
    ) -> None:
        ratio = ml_s / mw_s
        verdict = "OK" if ratio >= target else "MISSED"
        floor = "-" if floor_s is None else f"{floor_s * 1000:,.2f} ms{unit}"
        row = (what, f"{mw_s * 1000:,.2f} ms{unit}", f"{ml_s * 1000:,.2f} ms{unit}")
        self.rows.append((*row, f"{ratio:,.1f}x", f">= {target:g}x {verdict}", floor))
        print(self.rows[-1], flush=True)

    def start(self, mw_starts: list[float], ml_s: float, mw_cpu: float, ml_cpu: float) -> None:
        best = min(mw_starts)
        verdict = "OK" if best < 2.0 else "MISSED"
        self.rows.append(
            (
                "server start -> first 200 (/health), wall",
                f"{mw_starts[0]:.2f} s fresh, best {best:.2f} s",
                f"{ml_s:.2f} s",
                f"{ml_s / best:,.1f}x",
                f"< 2 s {verdict}",
                "-",
            )
        )
        self.rows.append(
            ("  the same starts in CPU time", f"{mw_cpu:.2f} s", f"{ml_cpu:.2f} s", "", "", "-")
        )
        print(self.rows[-2], self.rows[-1], flush=True)

    def print(self) -> None:
        headers = ("measure", "modelworks", "mlflow server", "ratio", "target", "client alone")
        widths = [max(len(r[i]) for r in [headers, *self.rows]) for i in range(len(headers))]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        print("\n" + line + "\n" + "-" * len(line))
        for row in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        print(
            "\nclient alone: the same client calls against a server that answers at once "
            "(canned replies), i.e. the MLflow client's own cost per call, which bounds any "
            "server's ratio."
        )


#: A server that answers every MLflow call at once with a canned reply: it measures what the
#: MLflow client itself costs per call (building, sending and parsing), with no server work.
NULL_SERVER = """
import json
RUN_ID = "0" * 32
INFO = {"run_id": RUN_ID, "run_uuid": RUN_ID, "experiment_id": "1", "status": "RUNNING",
        "lifecycle_stage": "active", "artifact_uri": "mlflow-artifacts:/1/x/artifacts"}
EXP = {"experiment_id": "1", "name": "null", "lifecycle_stage": "active",
       "artifact_location": "mlflow-artifacts:/1"}
ANSWERS = {
    "/experiments/get-by-name": {"experiment": EXP},
    "/experiments/get": {"experiment": EXP},
    "/experiments/create": {"experiment_id": "1"},
    "/runs/create": {"run": {"info": INFO, "data": {}}},
    "/runs/get": {"run": {"info": INFO, "data": {}}},
    "/runs/update": {"run_info": INFO},
}

async def app(scope, receive, send):
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    answer = ANSWERS.get(scope["path"].split("/mlflow", 1)[-1], {})
    body = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""


# -- the client code timed against both servers ------------------------------------------------
class Target:
    """One server as the MLflow client sees it."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self.token = url, token

    def use(self) -> Any:
        import mlflow

        if self.token:
            os.environ["MLFLOW_TRACKING_TOKEN"] = self.token
        else:
            os.environ.pop("MLFLOW_TRACKING_TOKEN", None)
        mlflow.set_tracking_uri(self.url)
        return mlflow


def interleaved(
    targets: tuple[Target, ...], rounds: int, timed: Callable[[Target, int], float]
) -> list[float]:
    """Median of ``timed(target, round)`` per target, the targets taking turns each round
    (so that load from other processes on the machine falls on all alike)."""
    samples: list[list[float]] = [[] for _ in targets]
    for r in range(rounds):
        for target, out in zip(targets, samples, strict=True):
            out.append(timed(target, r))
    return [statistics.median(s) for s in samples]


def fluent_log_metric(
    targets: tuple[Target, ...], calls: tuple[int, ...], rounds: int
) -> list[float]:
    """Seconds per ``mlflow.log_metric`` call, one call at a time, in an active run."""
    run_ids, experiment_ids = {}, {}
    for target in targets:
        mlflow = target.use()
        experiment = mlflow.set_experiment(f"bench-fluent-{uuid.uuid4().hex[:8]}")
        with mlflow.start_run() as run:
            for i in range(20):  # warm up connections and caches
                mlflow.log_metric("warm", float(i), step=i)
        run_ids[target.url] = run.info.run_id
        experiment_ids[target.url] = experiment.experiment_id
    per_target = dict(zip((t.url for t in targets), calls, strict=True))

    def block(target: Target, round_: int) -> float:
        mlflow = target.use()
        n = per_target[target.url]
        mlflow.set_experiment(experiment_id=experiment_ids[target.url])
        with mlflow.start_run(run_id=run_ids[target.url]):
            started = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", 1.0 / (i + 1), step=round_ * n + i)
            return (time.perf_counter() - started) / n

    return interleaved(targets, rounds, block)


def client_log_batch(targets: tuple[Target, ...], rounds: int) -> list[float]:
    """Median seconds of one ``MlflowClient.log_batch`` with 1,000 metrics."""
    from mlflow.entities import Metric

    run_ids = {}
    for target in targets:
        client = target.use().MlflowClient()
        exp = client.create_experiment(f"bench-batch-{uuid.uuid4().hex[:8]}")
        run_ids[target.url] = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)

    def batch(target: Target, round_: int) -> float:
        client = target.use().MlflowClient()
        metrics = [
            Metric(f"m{i % 10}", i * 0.5, now + round_, round_ * 1000 + i) for i in range(1000)
        ]
        started = time.perf_counter()
        client.log_batch(run_ids[target.url], metrics=metrics)
        return time.perf_counter() - started

    for target in targets:
        batch(target, rounds)  # warm up (a round number no timed round uses)
    return interleaved(targets, rounds, batch)


FILTER = "metrics.auc > 0.5"
ORDER = ["metrics.auc DESC"]


def client_search(
    targets: tuple[Target, ...], experiments: tuple[str, ...], rounds: int
) -> tuple[list[float], list[int]]:
    """Median seconds of ``search_runs`` (metric filter, ordered, 1,000 per page); hits."""
    exp_of = dict(zip((t.url for t in targets), experiments, strict=True))
    hits = []
    for target in targets:
        client = target.use().MlflowClient()
        runs = client.search_runs([exp_of[target.url]], FILTER, order_by=ORDER, max_results=1000)
        hits.append(len(runs))

    def search(target: Target, round_: int) -> float:
        client = target.use().MlflowClient()
        started = time.perf_counter()
        client.search_runs([exp_of[target.url]], FILTER, order_by=ORDER, max_results=1000)
        return time.perf_counter() - started

    return interleaved(targets, rounds, search), hits


# -- seeding ------------------------------------------------------------------------------------
def auc(i: int, n: int) -> float:
    return (i * 7919 % n) / n


def seed_mlflow(db_uri: str, n: int, tmp: Path) -> str:
    """n runs with metric auc and param C, through MLflow's own ORM models, in bulk."""
    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(db_uri, str(tmp / "seed-artifacts"))
    exp_id = store.create_experiment(f"search-{uuid.uuid4().hex[:6]}")
    now = int(time.time() * 1000)
    with store.ManagedSessionMaker() as session:
        objects: list[Any] = []
        for i in range(n):
            run_id = uuid.uuid4().hex
            objects.append(
                m.SqlRun(
                    run_uuid=run_id,
                    name=f"r{i}",
                    experiment_id=int(exp_id),
                    user_id="bench",
                    status="FINISHED",
                    start_time=now + i,
                    end_time=now + i,
                    lifecycle_stage="active",
                    artifact_uri=f"mlflow-artifacts:/{exp_id}/{run_id}/artifacts",
                    source_type="LOCAL",
                    source_name="",
                    entry_point_name="",
                    source_version="",
                    deleted_time=None,
                )
            )
            value = auc(i, n)
            for model in (m.SqlLatestMetric, m.SqlMetric):
                objects.append(
                    model(
                        key="auc", value=value, timestamp=now, step=0, is_nan=False, run_uuid=run_id
                    )
                )
            objects.append(m.SqlParam(key="C", value=str(i % 10), run_uuid=run_id))
            # the system tags MLflow's client stores on every run (modelworks shows the same
            # two, from the run's name and user columns)
            objects.append(m.SqlTag(key="mlflow.runName", value=f"r{i}", run_uuid=run_id))
            objects.append(m.SqlTag(key="mlflow.user", value="bench", run_uuid=run_id))
        session.add_all(objects)
    return str(exp_id)


def seed_modelworks(workspace: Path, n: int) -> str:
    """The same n runs in the modelworks server's own database, through the store port."""
    from modelworks.config import load_config
    from modelworks.entities import Metric
    from modelworks.store import open_metadata

    meta = open_metadata(load_config(workspace).metadata_uri)
    try:
        exp = meta.create_experiment(f"search-{uuid.uuid4().hex[:6]}")
        for start in range(0, n, 1000):
            chunk = range(start, min(start + 1000, n))
            runs = meta.create_runs(
                [
                    {
                        "experiment_id": exp.id,
                        "name": f"r{i}",
                        "status": "Completed",
                        "user": "bench",
                        "params": {"C": str(i % 10)},
                    }
                    for i in chunk
                ]
            )
            for i, run in zip(chunk, runs, strict=True):
                meta.log_batch(run.id, metrics=[Metric("auc", auc(i, n), 0, 1)])
        return exp.id
    finally:
        meta.close()


# -- main ---------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer calls and runs")
    args = parser.parse_args()
    # short blocks, many rounds: the servers take turns often, so load spikes hit both alike
    calls = (100, 20, 100) if args.quick else (150, 30, 150)  # per round: mw, mlflow, null
    rounds = 9 if args.quick else 25
    n_runs = 2_000 if args.quick else 10_000

    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.update(MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_ENABLE_ASYNC_LOGGING="false")
    report = Report()
    with tempfile.TemporaryDirectory(prefix="mw-mlflow-bench-") as name:
        tmp = Path(name)
        env = dict(os.environ)
        ml_port, mw_port = free_port(), free_port()
        ml_db = f"sqlite:///{tmp / 'mlflow.db'}"
        token = "mw_" + secrets.token_urlsafe(32)
        procs: list[subprocess.Popen[bytes]] = []
        try:
            # Each server starts alone, so that neither start is slowed by the other. Ours
            # starts three times (the first on a fresh workspace, which creates the database);
            # a start is one event on a shared machine, so the best of three is reported too.
            mw_url = f"http://127.0.0.1:{mw_port}"
            mw_cmd = [
                sys.executable, "-m", "modelworks.cli", "--workspace", str(tmp / "mw"),
                "server", "--port", str(mw_port),
            ]  # fmt: skip
            mw_starts = []
            for attempt in range(3):
                started = time.perf_counter()
                proc = start(mw_cmd, {**env, "MODELWORKS_ADMIN_TOKEN": token}, tmp / "mw.log")
                mw_starts.append(wait_first_200(f"{mw_url}/health", proc, started))
                if attempt < 2:
                    proc.terminate()
                    proc.wait(timeout=30)
            procs.append(proc)
            ml_started = time.perf_counter()
            procs.append(
                start(
                    [
                        sys.executable, "-m", "mlflow", "server",
                        "--backend-store-uri", ml_db,
                        "--artifacts-destination", str(tmp / "mlflow-artifacts"),
                        "--host", "127.0.0.1", "--port", str(ml_port), "--workers", "1",
                    ],
                    env,
                    tmp / "mlflow-server.log",
                )
            )  # fmt: skip
            ml_url = f"http://127.0.0.1:{ml_port}"
            ml_start = wait_first_200(f"{ml_url}/health", procs[-1], ml_started)
            report.start(
                mw_starts, ml_start, START_CPU[f"{mw_url}/health"], START_CPU[f"{ml_url}/health"]
            )
            (tmp / "null_server.py").write_text(NULL_SERVER)
            null_port = free_port()
            procs.append(
                start(
                    [
                        sys.executable, "-m", "uvicorn", "null_server:app", "--app-dir", str(tmp),
                        "--port", str(null_port), "--lifespan", "off", "--log-level", "warning",
                    ],
                    env,
                    tmp / "null-server.log",
                )
            )  # fmt: skip
            null_url = f"http://127.0.0.1:{null_port}"
            wait_first_200(f"{null_url}/health", procs[-1], time.perf_counter())
            targets = (Target(mw_url, token), Target(ml_url, None), Target(null_url, None))

            mw_s, ml_s, floor_s = fluent_log_metric(targets, calls, rounds)
            report.add("mlflow.log_metric, one call at a time", mw_s, ml_s, "/call", 5, floor_s)

            mw_s, ml_s, floor_s = client_log_batch(targets, rounds)
            report.add("MlflowClient.log_batch, 1,000 metrics", mw_s, ml_s, "/batch", 5, floor_s)

            experiments = (seed_modelworks(tmp / "mw", n_runs), seed_mlflow(ml_db, n_runs, tmp))
            (mw_s, ml_s), hits = client_search(targets[:2], experiments, min(rounds, 7))
            if hits[0] != hits[1]:
                raise AssertionError(f"different hits: modelworks {hits[0]}, mlflow {hits[1]}")
            what = f"search_runs over {n_runs:,} runs ({FILTER}, {hits[0]:,} returned)"
            report.add(what, mw_s, ml_s, "/search", 5, None)
        finally:
            for proc in procs:
                proc.terminate()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    report.print()


if __name__ == "__main__":
    main()
