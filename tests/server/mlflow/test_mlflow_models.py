"""Models through the stock MLflow client: log, load, autolog, register, stage, alias, load by
``models:/`` URI — and the same models as ordinary modelworks models, both ways."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import modelworks as mw

pytestmark = pytest.mark.filterwarnings(
    "ignore::DeprecationWarning", "ignore::FutureWarning", "ignore::UserWarning"
)

PIP = ["scikit-learn"]  # skips MLflow's slow requirement inference (a subprocess per model)


def uniq(prefix: str) -> str:
    return f"{prefix}-{os.urandom(4).hex()}"


def _iris() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True, as_frame=True)


def _unserved(log: str) -> list[str]:
    """Log lines of MLflow calls the server does not serve or that failed (5xx)."""
    status = re.compile(r'"(?:GET|POST|PUT|PATCH|DELETE|HEAD) /[^ ]*mlflow[^ ]* HTTP/1.1" 5\d\d')
    return [
        line
        for line in log.splitlines()
        if "Unserved MLflow API call" in line or status.search(line)
    ]


@pytest.mark.slow
def test_sklearn_log_load_register_and_load_by_uri(
    mlflow_server: Any, use_mlflow: Callable[..., Any], tmp_path: Path
) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    mark = len(mlflow_server.log())
    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)
    X, y = _iris()
    mlflow.set_experiment(uniq("models"))
    with mlflow.start_run() as run:
        model = LogisticRegression(max_iter=300).fit(X, y)
        mlflow.log_metric("accuracy", model.score(X, y))
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X.head(3), pip_requirements=PIP
        )
    expected = model.predict(X)
    assert info.model_id.startswith("m-") and info.run_id == run.info.run_id

    # MLflow reads it back, as a native model and as pyfunc, from the logged model
    np.testing.assert_array_equal(mlflow.sklearn.load_model(info.model_uri).predict(X), expected)
    logged = mlflow.get_logged_model(info.model_id)
    assert logged.source_run_id == run.info.run_id and str(logged.status) == "READY"
    assert logged.metrics and logged.metrics[0].key == "accuracy"

    # register from the run, as MLflow 2 scripts do; the version is an ordinary modelworks one
    name = uniq("iris")
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", name)
    assert version.version == "1" and version.run_id == run.info.run_id
    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.reader)
    mine = ws.models.get(f"{name}:1")
    assert set(mine.flavors) == {"python_function", "sklearn"} and mine.type == "mlflow_model"
    assert mine.signature is not None and mine.run_id == run.info.run_id
    assert {i["name"] for i in mine.signature["inputs"]} == set(X.columns)
    entries = {e.path for e in ws.meta.list_artifact_entries(f"model/{name}/1")}
    assert {"MLmodel", "model.skops", "input_example.json", "requirements.txt"} <= entries
    np.testing.assert_array_equal(ws.models.load(f"{name}:1").predict(X), expected)
    lineage = ws.models.lineage(f"{name}:1")
    assert lineage["run"].id == run.info.run_id

    # register from the logged model id too, and load both through models:/ URIs
    second = mlflow.register_model(info.model_uri, name)
    assert second.version == "2"
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(name, "champion", "2")
    for uri in (f"models:/{name}/1", f"models:/{name}@champion", f"models:/{name}/latest"):
        np.testing.assert_array_equal(mlflow.pyfunc.load_model(uri).predict(X), expected)
    assert ws.models.get(f"{name}@champion").version == "2"
    assert _unserved(mlflow_server.log()[mark:]) == []


def test_modelworks_logged_model_loads_in_mlflow(
    mlflow_server: Any, use_mlflow: Callable[..., Any]
) -> None:
    import mlflow.pyfunc
    import mlflow.sklearn
    from sklearn.tree import DecisionTreeClassifier

    X, y = _iris()
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    ws = mw.Workspace(mlflow_server.url, token=mlflow_server.writer)
    run = ws.runs.create(uniq("mw-side"))
    logged = ws.runs.log_model(run.id, model, input_example=X.head(2))
    name = uniq("tree")
    ws.models.register(logged["model_uri"], name=name)
    ws.runs.end(run.id)

    mlflow = use_mlflow(mlflow_server.url, mlflow_server.reader)
    loaded = mlflow.pyfunc.load_model(f"models:/{name}/1")
    np.testing.assert_array_equal(np.asarray(loaded.predict(X)), model.predict(X))
    native = mlflow.sklearn.load_model(f"runs:/{run.id}/model")
    np.testing.assert_array_equal(native.predict(X), model.predict(X))
    version = mlflow.MlflowClient().get_model_version(name, "1")
    assert version.run_id == run.id and version.status == "READY"


def test_registry_client_calls(mlflow_server: Any, use_mlflow: Callable[..., Any]) -> None:
    import mlflow.sklearn
    from sklearn.dummy import DummyClassifier

    mlflow = use_mlflow(mlflow_server.url, mlflow_server.writer)

    X, y = _iris()
    mlflow.set_experiment(uniq("registry"))
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(DummyClassifier().fit(X, y), name="model", pip_requirements=PIP)
    client = mlflow.MlflowClient()
    name = uniq("reg")
    created = client.create_registered_model(name, tags={"owner": "risk"}, description="first")
    assert created.name == name and created.tags == {"owner": "risk"}
    with pytest.raises(mlflow.exceptions.MlflowException) as again:
        client.create_registered_model(name)
    assert again.value.error_code == "RESOURCE_ALREADY_EXISTS"

    source = f"runs:/{run.info.run_id}/model"
    v1 = mlflow.register_model(source, name)
    v2 = mlflow.register_model(source, name, tags={"candidate": "yes"})
    assert (v1.version, v2.version) == ("1", "2")
    client.update_registered_model(name, description="updated")
    client.set_registered_model_tag(name, "domain", "iris")
    client.update_model_version(name, "2", description="better")
    client.set_model_version_tag(name, "2", "validated", "true")
    model = client.get_registered_model(name)
    assert model.description == "updated" and model.tags == {"owner": "risk", "domain": "iris"}
    got = client.get_model_version(name, "2")
    assert got.description == "better"
    assert got.tags == {"candidate": "yes", "validated": "true"}

    client.transition_model_version_stage(name, "1", "Production")
    client.transition_model_version_stage(name, "2", "production", archive_existing_versions=True)
    stages = {v.version: v.current_stage for v in client.search_model_versions(f"name = '{name}'")}
    assert stages == {"1": "Archived", "2": "Production"}
    latest = client.get_latest_versions(name, stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    with pytest.raises(mlflow.exceptions.MlflowException, match="Invalid Model Version stage"):
        client.transition_model_version_stage(name, "1", "Shipped")

    client.set_registered_model_alias(name, "champion", "1")
    assert client.get_model_version_by_alias(name, "champion").version == "1"
    assert client.get_registered_model(name).aliases == {"champion": "1"}
    client.delete_registered_model_alias(name, "champion")
    assert client.get_registered_model(name).aliases == {}

    found = client.search_registered_models(filter_string=f"name LIKE '{name[:-3]}%'")
    assert name in [m.name for m in found]
    tagged = client.search_model_versions(f"name = '{name}' AND tags.validated = 'true'")
    assert [v.version for v in tagged] == ["2"]
    by_run = client.search_model_versions(f"run_id = '{run.info.run_id}'")
    assert {v.version for v in by_run} == {"1", "2"}
    uri = client.get_model_version_download_uri(name, "1")
    assert uri == f"mlflow-artifacts:/registry/{name}/1"

    client.delete_model_version(name, "1")
    assert [v.version for v in client.search_model_versions(f"name = '{name}'")] == ["2"]
    client.delete_registered_model(name)
    with pytest.raises(mlflow.exceptions.MlflowException) as gone:
        client.get_registered_model(name)
    assert gone.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.slow
def test_sklearn_autolog(sqlite_server: Any, use_mlflow: Callable[..., Any]) -> None:
    import mlflow.sklearn
    from sklearn.linear_model import LogisticRegression

    mark = len(sqlite_server.log())
    mlflow = use_mlflow(sqlite_server.url, sqlite_server.writer)
    X, y = _iris()
    mlflow.set_experiment(uniq("autolog"))
    mlflow.sklearn.autolog(log_input_examples=False, silent=True)
    try:
        with mlflow.start_run() as run:
            model = LogisticRegression(max_iter=250).fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    got = mlflow.get_run(run.info.run_id)
    assert got.data.params["max_iter"] == "250"
    assert got.data.metrics["training_accuracy_score"] == pytest.approx(model.score(X, y))
    assert got.data.tags["estimator_name"] == "LogisticRegression"
    [logged] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert logged.source_run_id == run.info.run_id
    reloaded = mlflow.sklearn.load_model(f"models:/{logged.model_id}")
    np.testing.assert_array_equal(reloaded.predict(X), model.predict(X))

    ws = mw.Workspace(sqlite_server.url, token=sqlite_server.reader)
    assert ws.runs.get(run.info.run_id).metrics["training_accuracy_score"] == pytest.approx(
        model.score(X, y)
    )
    assert _unserved(sqlite_server.log()[mark:]) == []
