"""The stock MLflow client tracking against a real modelworks server, on SQLite and PostgreSQL.

Every test checks both sides: what the MLflow client reads back, and that the same data is
there as ordinary modelworks entities (``Workspace(url).runs``), since nothing is stored twice.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import modelworks as mw
from modelworks.entities import RunStatus

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning"
)


def uniq(prefix: str) -> str:
    return f"{prefix}-{os.urandom(4).hex()}"


def test_experiments_round_trip(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    client = mlflow.MlflowClient()
    name = uniq("exp")
    exp_id = client.create_experiment(name, tags={"team": "fraud"})
    assert len(exp_id) == 32
    exp = client.get_experiment(exp_id)
    assert (exp.name, exp.lifecycle_stage, exp.tags["team"]) == (name, "active", "fraud")
    assert exp.artifact_location == f"mlflow-artifacts:/{exp_id}"
    assert client.get_experiment_by_name(name).experiment_id == exp_id
    assert client.get_experiment_by_name(uniq("missing")) is None

    client.set_experiment_tag(exp_id, "stage", "dev")
    renamed = name + "-renamed"
    client.rename_experiment(exp_id, renamed)
    found = client.search_experiments(filter_string=f"name = '{renamed}' AND tags.stage = 'dev'")
    assert [e.experiment_id for e in found] == [exp_id]

    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    active = client.search_experiments(filter_string=f"name LIKE '{renamed}%'")
    assert active == []
    deleted = client.search_experiments(
        view_type=mlflow.entities.ViewType.DELETED_ONLY, filter_string=f"name = '{renamed}'"
    )
    assert [e.experiment_id for e in deleted] == [exp_id]
    client.restore_experiment(exp_id)

    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.writer)
    mine = ws.experiments.get(renamed)
    assert mine.id == exp_id and mine.tags == {"team": "fraud", "stage": "dev"}
    assert not mine.deleted


def test_experiment_search_pages(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    client = mlflow.MlflowClient()
    prefix = uniq("page")
    ids = {client.create_experiment(f"{prefix}-{i}") for i in range(5)}
    seen: list[str] = []
    token = None
    while True:
        page = client.search_experiments(
            max_results=2,
            filter_string=f"name LIKE '{prefix}-%'",
            order_by=["name DESC"],
            page_token=token,
        )
        seen.extend(e.experiment_id for e in page)
        token = page.token
        if not token:
            break
    assert set(seen) == ids and len(seen) == 5
    names = [client.get_experiment(i).name for i in seen]
    assert names == sorted(names, reverse=True)


def test_fluent_run_maps_onto_a_modelworks_run(
    mlflow_server: Any, use_mlflow: Callable[..., Any]
) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    exp_name = uniq("fluent")
    mlflow.set_experiment(exp_name)
    with mlflow.start_run(run_name="baseline", tags={"team": "risk"}) as run:
        mlflow.log_param("C", 0.5)
        mlflow.log_params({"penalty": "l2", "solver": "lbfgs"})
        for step in range(5):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"auc": 0.91, "nan_metric": float("nan")})
        mlflow.set_tags({"stage": "dev", "mlflow.note.content": "first try"})
    run_id = run.info.run_id

    got = mlflow.get_run(run_id)
    assert got.info.status == "FINISHED" and got.info.lifecycle_stage == "active"
    assert got.info.run_name == "baseline" and got.data.tags["mlflow.runName"] == "baseline"
    assert got.data.params == {"C": "0.5", "penalty": "l2", "solver": "lbfgs"}
    assert got.data.metrics["loss"] == pytest.approx(0.2) and got.data.metrics["auc"] == 0.91
    assert math.isnan(got.data.metrics["nan_metric"])
    assert got.data.tags["team"] == "risk" and got.data.tags["stage"] == "dev"
    assert got.info.end_time >= got.info.start_time > 0
    history = mlflow.MlflowClient().get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]

    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.reader)
    mine = ws.runs.get(run_id)
    assert mine.status is RunStatus.COMPLETED and mine.name == "baseline"
    assert mine.experiment_id == got.info.experiment_id
    assert mine.params == got.data.params and mine.metrics["auc"] == 0.91
    assert "mlflow.runName" not in mine.tags  # kept once, as the run's name
    assert mine.user == got.info.user_id and mine.tags["mlflow.source.type"] == "LOCAL"
    assert [m.value for m in ws.runs.get_metric_history(run_id, "loss")] == [
        1.0 / (s + 1) for s in range(5)
    ]


def test_default_experiment_is_zero(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    with mlflow.start_run() as run:  # no experiment set: MLflow uses experiment "0"
        mlflow.log_metric("x", 1.0)
    default = mlflow.MlflowClient().get_experiment("0")
    assert default.name == "Default"
    assert run.info.experiment_id == default.experiment_id
    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.reader)
    assert ws.runs.get(run.info.run_id).experiment_id == ws.experiments.get("Default").id


def test_client_statuses_names_and_tags(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment(uniq("status"))
    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.reader)
    expected = {"FAILED": RunStatus.FAILED, "KILLED": RunStatus.CANCELED}
    for mlflow_status, ours in expected.items():
        run = client.create_run(exp_id, run_name=f"r-{mlflow_status}")
        assert run.info.status == "RUNNING"
        client.set_terminated(run.info.run_id, status=mlflow_status)
        assert client.get_run(run.info.run_id).info.status == mlflow_status
        assert ws.runs.get(run.info.run_id).status is ours

    run = client.create_run(exp_id, run_name="before")
    client.set_tag(run.info.run_id, "mlflow.runName", "after")  # renames the run
    assert ws.runs.get(run.info.run_id).name == "after"
    client.update_run(run.info.run_id, name="again")
    assert client.get_run(run.info.run_id).info.run_name == "again"
    client.set_tag(run.info.run_id, "temp", "1")
    client.delete_tag(run.info.run_id, "temp")
    assert "temp" not in client.get_run(run.info.run_id).data.tags

    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    client.log_batch(
        run.info.run_id,
        metrics=[Metric("m", float(i), now + i, i) for i in range(3)],
        params=[Param("p", "1")],
        tags=[RunTag("t", "v")],
    )
    data = client.get_run(run.info.run_id).data
    assert (data.metrics["m"], data.params["p"], data.tags["t"]) == (2.0, "1", "v")

    child = client.create_run(exp_id, tags={"mlflow.parentRunId": run.info.run_id})
    assert ws.runs.get(child.info.run_id).parent_id == run.info.run_id
    assert client.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == run.info.run_id

    client.delete_run(child.info.run_id)
    assert client.get_run(child.info.run_id).info.lifecycle_stage == "deleted"
    assert ws.runs.get(child.info.run_id).deleted
    client.restore_run(child.info.run_id)
    assert client.get_run(child.info.run_id).info.lifecycle_stage == "active"


def test_search_runs_filter_order_and_pages(
    mlflow_server: Any, use_mlflow: Callable[..., Any]
) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment(uniq("search"))
    ids = {}
    for i in range(12):
        run = client.create_run(exp_id, run_name=f"run-{i:02d}", tags={"parity": str(i % 2)})
        client.log_metric(run.info.run_id, "auc", i / 12)
        client.log_param(run.info.run_id, "depth", str(i % 3))
        if i % 4 == 0:
            client.set_terminated(run.info.run_id)
        ids[i] = run.info.run_id

    runs = client.search_runs(
        [exp_id],
        filter_string="metrics.auc > 0.4 AND params.depth != '0' AND tags.parity = '1'",
        order_by=["metrics.auc DESC"],
    )
    expected = [i for i in range(12) if i / 12 > 0.4 and i % 3 != 0 and i % 2 == 1]
    assert [r.info.run_id for r in runs] == [ids[i] for i in sorted(expected, reverse=True)]

    by_name = client.search_runs([exp_id], filter_string="tags.`mlflow.runName` = 'run-03'")
    assert [r.info.run_id for r in by_name] == [ids[3]]
    by_attr = client.search_runs([exp_id], filter_string="attributes.run_name LIKE 'run-1%'")
    assert {r.info.run_id for r in by_attr} == {ids[10], ids[11]}
    finished = client.search_runs([exp_id], filter_string="attributes.status = 'FINISHED'")
    assert {r.info.run_id for r in finished} == {ids[0], ids[4], ids[8]}
    named = client.search_runs([exp_id], order_by=["attributes.run_name ASC"], max_results=3)
    assert [r.info.run_name for r in named] == ["run-00", "run-01", "run-02"]

    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs([exp_id], max_results=5, page_token=token)
        seen.extend(r.info.run_id for r in page)
        token = page.token
        if not token:
            break
    assert sorted(seen) == sorted(ids.values())

    client.delete_run(ids[5])
    active = client.search_runs([exp_id])
    assert ids[5] not in {r.info.run_id for r in active}
    deleted = client.search_runs([exp_id], run_view_type=mlflow.entities.ViewType.DELETED_ONLY)
    assert [r.info.run_id for r in deleted] == [ids[5]]
    everything = client.search_runs([exp_id], run_view_type=mlflow.entities.ViewType.ALL)
    assert len(everything) == 12

    frame = mlflow.search_runs([exp_id], filter_string="metrics.auc >= 0.5")
    assert sorted(frame["run_id"]) == sorted(ids[i] for i in range(6, 12) if i != 5)


def test_artifacts_round_trip(
    mlflow_server: Any, use_mlflow: Callable[..., Any], tmp_path: Path
) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    mlflow.set_experiment(uniq("artifacts"))
    (tmp_path / "report.txt").write_text("hello")
    folder = tmp_path / "plots"
    (folder / "deep").mkdir(parents=True)
    (folder / "a.csv").write_text("x,y\n1,2\n")
    (folder / "deep" / "b.bin").write_bytes(os.urandom(70_000))
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "report.txt"))
        mlflow.log_artifact(str(tmp_path / "report.txt"), artifact_path="copies")
        mlflow.log_artifacts(str(folder), artifact_path="plots")
        mlflow.log_text("some text", "notes/n.txt")
        mlflow.log_dict({"a": 1}, "config.json")
    run_id = run.info.run_id
    assert run.info.artifact_uri.endswith(f"/{run_id}/artifacts")

    client = mlflow.MlflowClient()
    top = {(f.path, f.is_dir) for f in client.list_artifacts(run_id)}
    assert top == {
        ("config.json", False),
        ("copies", True),
        ("notes", True),
        ("plots", True),
        ("report.txt", False),
    }
    deep = client.list_artifacts(run_id, "plots/deep")
    assert [(f.path, f.file_size) for f in deep] == [("plots/deep/b.bin", 70_000)]

    out = Path(mlflow.artifacts.download_artifacts(run_id=run_id, dst_path=str(tmp_path / "dl")))
    assert (out / "report.txt").read_text() == "hello"
    assert (out / "plots" / "deep" / "b.bin").read_bytes() == (
        folder / "deep" / "b.bin"
    ).read_bytes()
    single = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="notes/n.txt", dst_path=str(tmp_path / "one")
    )
    assert Path(single).read_text() == "some text"
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/config.json") == {"a": 1}

    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.reader)
    mine = {e.path: e.size for e in ws.runs.list_artifacts(run_id)}
    assert mine["plots/deep/b.bin"] == 70_000 and mine["copies/report.txt"] == 5
    assert len(mine) == 6


def test_dataset_inputs_are_kept(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    import pandas as pd

    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    mlflow.set_experiment(uniq("inputs"))
    frame = pd.DataFrame({"age": [30, 40], "y": [0, 1]})
    dataset = mlflow.data.from_pandas(frame, name="bank", targets="y")
    with mlflow.start_run() as run:
        mlflow.log_input(dataset, context="training")
    got = mlflow.get_run(run.info.run_id)
    [entry] = got.inputs.dataset_inputs
    assert entry.dataset.name == "bank" and entry.dataset.digest == dataset.digest
    assert {t.key: t.value for t in entry.tags}["mlflow.data.context"] == "training"
    assert not any(k.startswith("mlflow.datasetInput") for k in got.data.tags)


def test_metric_history_bulk_interval(sqlite_server: Any, use_mlflow: Callable[..., Any]) -> None:
    import httpx

    mlflow = use_mlflow(sqlite_server.url, sqlite_server.writer)
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment(uniq("bulk"))
    runs = [client.create_run(exp_id).info.run_id for _ in range(2)]
    for index, run_id in enumerate(runs):
        for step in range(100):
            client.log_metric(run_id, "loss", index + step, step=step)
    headers = {"Authorization": f"Bearer {sqlite_server.reader}"}
    with httpx.Client(base_url=sqlite_server.url, headers=headers) as http:
        body = http.get(
            "/api/2.0/mlflow/metrics/get-history-bulk-interval",
            params={"run_ids": runs, "metric_key": "loss", "max_results": 11},
        ).json()
        steps = sorted({m["step"] for m in body["metrics"]})
        assert steps == [round(i * 9.9) for i in range(11)]  # evenly spread, ends kept
        assert len(body["metrics"]) == 22
        assert {m["run_id"] for m in body["metrics"]} == set(runs)
        window = http.get(
            "/api/2.0/mlflow/metrics/get-history-bulk-interval",
            params={"run_ids": runs[:1], "metric_key": "loss", "start_step": 10, "end_step": 12},
        ).json()
        assert [(m["step"], m["value"]) for m in window["metrics"]] == [
            (10, 10),
            (11, 11),
            (12, 12),
        ]
        half = http.get(
            "/api/2.0/mlflow/metrics/get-history-bulk-interval",
            params={"run_ids": runs[:1], "metric_key": "loss", "start_step": 10},
        )
        assert half.status_code == 400 and "both must be specified" in half.json()["message"]


def test_logged_model_routes(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    client = mlflow.MlflowClient()
    exp_id = client.create_experiment(uniq("logged"))
    run = client.create_run(exp_id)
    client.log_metric(run.info.run_id, "auc", 0.8)
    model = client.create_logged_model(
        exp_id, name="net", source_run_id=run.info.run_id, params={"layers": "3"},
        tags={"kind": "demo"}, model_type="classifier",
    )  # fmt: skip
    assert model.model_id.startswith("m-") and str(model.status) == "PENDING"
    assert model.artifact_location.endswith(f"/models/{model.model_id}/artifacts")
    client.log_model_params(model.model_id, {"dropout": "0.1"})
    client.set_logged_model_tags(model.model_id, {"owner": "risk", "temp": "x"})
    client.delete_logged_model_tag(model.model_id, "temp")
    client.finalize_logged_model(model.model_id, mlflow.entities.LoggedModelStatus.READY)
    got = client.get_logged_model(model.model_id)
    assert str(got.status) == "READY" and got.model_type == "classifier"
    assert got.params == {"layers": "3", "dropout": "0.1"}
    assert {k: v for k, v in got.tags.items() if not k.startswith("mlflow.")} == {
        "kind": "demo",
        "owner": "risk",
    }
    assert {m.key: m.value for m in got.metrics} == {"auc": 0.8}

    other = client.create_logged_model(exp_id, name="other", model_type="regressor")
    found = client.search_logged_models(
        [exp_id], filter_string="name = 'net' AND params.layers = '3' AND metrics.auc > 0.5"
    )
    assert [m.model_id for m in found] == [model.model_id]
    ordered = client.search_logged_models([exp_id], order_by=[{"field_name": "name"}])
    assert [m.name for m in ordered] == ["net", "other"]
    pending = client.search_logged_models([exp_id], filter_string="status = 'PENDING'")
    assert [m.model_id for m in pending] == [other.model_id]
    assert client.search_runs([exp_id]) and all(  # logged models are not runs to MLflow
        r.info.run_id == run.info.run_id for r in client.search_runs([exp_id])
    )
    client.delete_logged_model(other.model_id)
    with pytest.raises(mlflow.exceptions.MlflowException) as gone:
        client.get_logged_model(other.model_id)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"
