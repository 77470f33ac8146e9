"""ws.models end to end with real trained models: register, alias, load, predict, lineage."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

import modelworks as mw
from modelworks.errors import AlreadyExistsError, InvalidInputError, NotFoundError


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.Series]:
    data = load_breast_cancer(as_frame=True)
    return data.data.iloc[:, :8], data.target


def _name() -> str:
    return f"clf-{uuid.uuid4().hex[:8]}"


def test_log_register_alias_load_predict(
    ws: Any, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    X, y = cancer
    path = tmp_path / "cancer.csv"
    X.assign(target=y).to_csv(path, index=False)
    data_name = f"cancer-{uuid.uuid4().hex[:6]}"
    ws.data.create(data_name, str(path), type="mltable")
    with mw.start_run(experiment="registry", workspace=ws) as run:
        frame = ws.data.get(f"{data_name}@latest").to_pandas()
        model = LogisticRegression(max_iter=2000).fit(frame[X.columns], frame["target"])
        info = mw.log_model(model, "model", input_example=X.head(5))
    assert info["model_uri"] == f"runs:/{run.id}/model" and "sklearn" in info["flavors"]
    name = _name()
    version = ws.models.register(info["model_uri"], name=name)
    assert version.version == "1" and version.run_id == run.id and version.type == "mlflow_model"
    assert [c["name"] for c in version.signature["inputs"]] == list(X.columns)
    ws.models.set_alias(name, "production", version=1)
    loaded = ws.models.load(f"models:/{name}@production")
    np.testing.assert_array_equal(loaded.predict(X.head(20)), model.predict(X.head(20)))
    lineage = ws.models.lineage(f"{name}@production")
    assert lineage["run"].id == run.id
    assert [(e.name, e.version) for e in lineage["data"]] == [(data_name, "1")]
    forward = ws.data.lineage(f"{data_name}@latest")
    assert [(m.name, m.version) for m in forward["models"]] == [(name, "1")]
    # registering the same run output again makes version 2 without copying bytes
    assert ws.models.register(info["model_uri"], name=name).version == "2"
    assert ws.models.get(f"azureml:{name}:2").content_hash == version.content_hash
    folder = ws.models.download(f"{name}:1", tmp_path / "dl")
    assert (folder / "MLmodel").exists()


def test_register_local_folder_and_errors(
    ws: Any, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    from modelworks.registry import save_model

    X, y = cancer
    save_model(
        LogisticRegression(max_iter=2000).fit(X, y), str(tmp_path / "m"), input_example=X.head(3)
    )
    name = _name()
    ws.models.register(str(tmp_path / "m"), name=name, version=3, tags={"stage": "dev"})
    assert ws.models.get(name).version == "3"
    with pytest.raises(AlreadyExistsError):
        ws.models.register(str(tmp_path / "m"), name=name, version=3)
    with pytest.raises(NotFoundError, match="no alias 'prod'"):
        ws.models.get(f"{name}@prod")
    with pytest.raises(NotFoundError, match="No model named"):
        ws.models.get(f"{name}x")
    with pytest.raises(NotFoundError, match="neither a runs:/"):
        ws.models.register(str(tmp_path / "nope"), name=name)
    with pytest.raises(InvalidInputError, match="missing"):
        ws.models.load(name).predict(X.drop(columns=[X.columns[0]]).head())


def test_mlflow_saved_model_registers_as_is(
    ws: Any, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path
) -> None:
    import mlflow.sklearn

    X, y = cancer
    model = LogisticRegression(max_iter=2000).fit(X, y)
    mlflow.sklearn.save_model(
        model,
        str(tmp_path / "mlflow-model"),
        input_example=X.head(3),
        pip_requirements=["scikit-learn"],
    )
    name = _name()
    version = ws.models.register(str(tmp_path / "mlflow-model"), name=name)
    assert "sklearn" in version.flavors and "python_function" in version.flavors
    np.testing.assert_array_equal(ws.models.load(name).predict(X.head()), model.predict(X.head()))


def test_azure_model_yaml(ws: Any, cancer: tuple[pd.DataFrame, pd.Series], tmp_path: Path) -> None:
    from modelworks.registry import save_model

    X, y = cancer
    save_model(LogisticRegression(max_iter=2000).fit(X, y), str(tmp_path / "model"))
    name = _name()
    (tmp_path / "model.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        f"name: {name}\npath: ./model\ntype: mlflow_model\ndescription: from yaml\n"
    )
    version = ws.models.create_from_spec(tmp_path / "model.yml")
    assert (version.version, version.description, version.type) == (
        "1",
        "from yaml",
        "mlflow_model",
    )
