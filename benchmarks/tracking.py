"""Tracking benchmark: modelworks vs MLflow 3.x, measured in the same run, printing ratios.

    .venv/bin/python benchmarks/tracking.py            # full sizes (several minutes: MLflow is slow)
    .venv/bin/python benchmarks/tracking.py --quick    # smaller MLflow samples

Each figure is a throughput or a latency measured on this machine in this run; the ratio
column is what the issue's targets are stated in (machines here are shared and noisy, so only
ratios within one run are comparable). Where MLflow would take minutes, it is timed on fewer
operations and compared by rate (ops/s), which the output says.
"""

from __future__ import annotations

import argparse
import logging
import os
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 120.0) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            if httpx.get(url, timeout=0.5).status_code == 200:
                return time.perf_counter() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise TimeoutError(url)


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str, str]] = []

    def rate(
        self, what: str, mw_ops: int, mw_s: float, ml_ops: int, ml_s: float, target: float
    ) -> None:
        mw_rate, ml_rate = mw_ops / mw_s, ml_ops / ml_s
        ratio = mw_rate / ml_rate
        self.rows.append(
            (
                what,
                f"{mw_rate:,.0f}/s ({mw_ops} in {mw_s:.2f}s)",
                f"{ml_rate:,.0f}/s ({ml_ops} in {ml_s:.2f}s)",
                f"{ratio:,.1f}x",
                f">= {target:g}x {'OK' if ratio >= target else 'MISSED'}",
            )
        )
        print(self.rows[-1], flush=True)

    def latency(self, what: str, mw_s: float, ml_s: float, target: str, ok: bool) -> None:
        self.rows.append(
            (
                what,
                f"{mw_s:.3f}s",
                f"{ml_s:.3f}s",
                f"{ml_s / mw_s:,.1f}x",
                f"{target} {'OK' if ok else 'MISSED'}",
            )
        )
        print(self.rows[-1], flush=True)

    def print(self) -> None:
        headers = ("measure", "modelworks", "mlflow", "ratio", "target")
        widths = [max(len(r[i]) for r in [headers, *self.rows]) for i in range(5)]
        line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
        print("\n" + line + "\n" + "-" * len(line))
        for row in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


# -- modelworks side ---------------------------------------------------------------------------
def mw_log_metrics(ws: Any, n: int) -> float:
    run = ws.runs.create("bench-log")

    def go() -> None:
        for i in range(n):
            ws.runs.log_metric(run.id, "loss", 1.0 / (i + 1), step=i)
        ws.runs.flush()

    seconds = timed(go)
    assert len(ws.runs.get_metric_history(run.id, "loss")) == n
    return seconds


def mw_create_runs(ws: Any, n: int) -> float:
    """Create n runs and flush, so all n rows are written when the clock stops."""
    name = f"bench-create-{uuid.uuid4().hex[:6]}"
    ws.experiments.create(name)  # the experiment exists before timing, as for MLflow

    def go() -> None:
        for _ in range(n):
            ws.runs.create(name)
        ws.runs.flush()

    seconds = timed(go)
    assert len(ws.runs.search(name)) == n
    return seconds


# -- MLflow side -------------------------------------------------------------------------------
def ml_log_metrics(client: Any, n: int) -> float:
    exp = client.create_experiment(f"bench-log-{uuid.uuid4().hex[:6]}")
    run = client.create_run(exp)
    return timed(
        lambda: [
            client.log_metric(run.info.run_id, "loss", 1.0 / (i + 1), step=i) for i in range(n)
        ]
    )


def ml_create_runs(client: Any, n: int) -> float:
    exp = client.create_experiment(f"bench-create-{uuid.uuid4().hex[:6]}")
    return timed(lambda: [client.create_run(exp) for _ in range(n)])


def start_mlflow_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            f"sqlite:///{tmp / 'mlflow-server.db'}",
            "--default-artifact-root",
            str(tmp / "mlflow-artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", timeout=180)
    return proc, url, time.perf_counter() - started


def start_mw_server(tmp: Path) -> tuple[subprocess.Popen[bytes], str, str, float]:
    port = free_port()
    token = "mw_bench_" + uuid.uuid4().hex
    env = {**os.environ, "MODELWORKS_ADMIN_TOKEN": token}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelworks.cli",
            "--workspace",
            str(tmp / "mw-server-ws"),
            "server",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/health", timeout=60)
    return proc, url, token, time.perf_counter() - started


def seed_mlflow_runs(db_uri: str, n: int) -> str:
    """Insert n runs with a metric and a param through MLflow's own SQLAlchemy models."""
    from mlflow.store.tracking.dbmodels import models as m
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(db_uri, tempfile.mkdtemp())
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
                    artifact_uri="/tmp",
                    source_type="LOCAL",
                    source_name="",
                    entry_point_name="",
                    source_version="",
                    deleted_time=None,
                )
            )
            value = (i * 7919 % n) / n
            objects.append(
                m.SqlLatestMetric(
                    key="auc", value=value, timestamp=now, step=0, is_nan=False, run_uuid=run_id
                )
            )
            objects.append(
                m.SqlMetric(
                    key="auc", value=value, timestamp=now, step=0, is_nan=False, run_uuid=run_id
                )
            )
            objects.append(m.SqlParam(key="C", value=str(i % 10), run_uuid=run_id))
        session.add_all(objects)
    return exp_id


def seed_mw_runs(ws: Any, n: int) -> str:
    from modelworks.entities import Metric

    name = f"search-{uuid.uuid4().hex[:6]}"
    exp = ws.experiments.create(name)
    for i in range(n):
        run = ws.meta.create_run(exp.id, name=f"r{i}", params={"C": str(i % 10)})
        ws.meta.log_batch(run.id, metrics=[Metric("auc", (i * 7919 % n) / n, 0, 1)])
    return name


def median_time(fn: Callable[[], Any], repeat: int = 5) -> float:
    fn()  # warm up
    return statistics.median(timed(fn) for _ in range(repeat))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer MLflow operations")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")

    from mlflow.tracking import MlflowClient

    import modelworks as mw

    n_mw = 10_000
    n_ml = 300 if args.quick else 1_000
    n_search = 2_000 if args.quick else 10_000
    report = Report()
    with tempfile.TemporaryDirectory(prefix="mw-bench-") as tmp_name:
        tmp = Path(tmp_name)
        ws = mw.Workspace(tmp / "mw-ws")
        ml = MlflowClient(tracking_uri=f"sqlite:///{tmp / 'mlflow.db'}")
        ml.search_experiments()  # create MLflow's schema before timing

        report.rate(
            "log_metric, embedded SQLite",
            n_mw,
            mw_log_metrics(ws, n_mw),
            n_ml,
            ml_log_metrics(ml, n_ml),
            100,
        )
        report.rate(
            "create run, embedded SQLite",
            100,
            mw_create_runs(ws, 100),
            100,
            ml_create_runs(ml, 100),
            5,
        )

        mw_proc, mw_url, token, mw_start = start_mw_server(tmp)
        ml_proc, ml_url, ml_start = start_mlflow_server(tmp)
        try:
            report.latency(
                "server start -> first 200 /health", mw_start, ml_start, "< 2 s", mw_start < 2.0
            )
            remote = mw.Workspace(mw_url, token=token)
            ml_remote = MlflowClient(tracking_uri=ml_url)
            report.rate(
                "log_metric, over HTTP",
                n_mw,
                mw_log_metrics(remote, n_mw),
                n_ml,
                ml_log_metrics(ml_remote, n_ml),
                100,
            )
            report.rate(
                "create run, over HTTP",
                100,
                mw_create_runs(remote, 100),
                100,
                ml_create_runs(ml_remote, 100),
                20,
            )
        finally:
            for proc in (mw_proc, ml_proc):
                proc.terminate()
                proc.wait(timeout=30)

        exp_name = seed_mw_runs(ws, n_search)
        ml_exp = seed_mlflow_runs(f"sqlite:///{tmp / 'mlflow.db'}", n_search)
        filt, order = "metrics.auc > 0.5 and params.C != '3'", ["metrics.auc DESC"]
        mw_s = median_time(
            lambda: ws.runs.search(exp_name, filter=filt, order_by=order, max_results=1000)
        )
        ml_s = median_time(
            lambda: ml.search_runs([ml_exp], filter_string=filt, order_by=order, max_results=1000)
        )
        hits = len(ws.runs.search(exp_name, filter=filt, order_by=order, max_results=1000))
        assert hits == len(
            ml.search_runs([ml_exp], filter_string=filt, order_by=order, max_results=1000)
        )
        report.rate(f"search {n_search:,} runs (filter+order, 1000 hits)", 1, mw_s, 1, ml_s, 5)
    report.print()


if __name__ == "__main__":
    main()
