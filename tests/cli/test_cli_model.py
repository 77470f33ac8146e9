"""``modelworks model ...`` with a real scikit-learn model saved by ``registry.save_model``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from modelworks.cli import app

runner = CliRunner()


def mw(ws: Path, *args: str, **kwargs: Any) -> Result:
    return runner.invoke(app, ["-w", str(ws), *args], **kwargs)


def ok(ws: Path, *args: str, **kwargs: Any) -> Result:
    result = mw(ws, *args, **kwargs)
    assert result.exit_code == 0, f"{args}: {result.stderr}\n{result.stdout}\n{result.exception!r}"
    return result


def as_json(ws: Path, *args: str) -> Any:
    return json.loads(ok(ws, *args, "-o", "json").stdout)


def user_error(ws: Path, *args: str, **kwargs: Any) -> str:
    result = mw(ws, *args, **kwargs)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    return " ".join(result.stderr.split())


@pytest.fixture(scope="module")
def iris(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, Any]:
    """(folder written by save_model, the fitted model, its training frame)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from modelworks.registry import save_model

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    folder = tmp_path_factory.mktemp("iris") / "model"
    save_model(model, str(folder), input_example=X.head())
    return folder, model, X


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    ok(path, "init")
    return path


def test_create_show_list_download_from_a_local_folder(
    ws: Path, iris: tuple[Path, Any, Any], tmp_path: Path
) -> None:
    folder, model, X = iris
    created = as_json(
        ws, "model", "create", "--name", "iris", "--path", str(folder), "--tag", "stage=dev"
    )
    assert (created["name"], created["version"]) == ("iris", "1")
    assert created["type"] == "mlflow_model" and "sklearn" in created["flavors"]
    assert created["uri"] == "models:/iris/1"

    shown = as_json(ws, "model", "show", "iris:1")
    assert shown["tags"] == {"stage": "dev"}
    assert [c["name"] for c in shown["signature"]["inputs"]] == list(X.columns)
    table = ok(ws, "model", "show", "iris@latest").stdout
    assert "Signature inputs" in table and "sepal length (cm)" in table and "double" in table
    assert "sklearn" in table

    ok(ws, "model", "create", "--name", "iris", "--path", str(folder), "--description", "again")
    assert [v["version"] for v in as_json(ws, "model", "list", "--name", "iris")] == ["2", "1"]
    models = as_json(ws, "model", "list")
    assert [(m["name"], m["latest_version"]) for m in models] == [("iris", "2")]

    result = as_json(ws, "model", "download", "iris:1", "--path", str(tmp_path / "dl"))
    local = Path(result["path"])
    assert local == (tmp_path / "dl" / "iris").resolve()
    assert sorted(p.name for p in local.iterdir()) == sorted(p.name for p in folder.iterdir())
    assert result["files"] == len(list(folder.iterdir()))

    from modelworks.registry import load_model

    reloaded = load_model(str(local))
    assert list(reloaded.predict(X.head(20))) == list(model.predict(X.head(20)))


def test_aliases(ws: Path, iris: tuple[Path, Any, Any]) -> None:
    folder = iris[0]
    for _ in range(2):
        ok(ws, "model", "create", "-n", "iris", "-p", str(folder))
    ok(ws, "model", "set-alias", "--name", "iris", "--alias", "production", "--version", "1")
    assert as_json(ws, "model", "show", "iris@production")["version"] == "1"
    assert as_json(ws, "model", "show", "models:/iris@production")["aliases"] == ["production"]
    ok(ws, "model", "set-alias", "-n", "iris", "-a", "production", "-v", "2")
    assert as_json(ws, "model", "show", "iris@production")["version"] == "2"
    assert as_json(ws, "model", "list")[0]["aliases"] == {"production": "2"}
    ok(ws, "model", "delete-alias", "--name", "iris", "--alias", "production")
    message = user_error(ws, "model", "show", "iris@production")
    assert "no alias 'production'" in message


def test_create_from_a_run_records_lineage(ws: Path, iris: tuple[Path, Any, Any]) -> None:
    import modelworks as mw_sdk

    with mw_sdk.Workspace(ws) as sdk:
        run = sdk.runs.create("train", name="fit-1")
        sdk.runs.log_artifact(run.id, iris[0], "model")
        sdk.data.create("train-data", iris[2].head(30))
        sdk.data.record_input(run.id, "train-data", "1")
        sdk.runs.end(run.id)
    created = as_json(ws, "model", "create", "--name", "iris", "--path", f"runs:/{run.id}/model")
    assert created["run_id"] == run.id and "sklearn" in created["flavors"]
    lineage = as_json(ws, "model", "lineage", "iris:1")
    assert lineage["run"] == {"id": run.id, "name": "fit-1", "status": "Completed"}
    assert lineage["data"] == [{"name": "train-data", "version": "1"}]
    assert as_json(ws, "data", "lineage", "train-data:1")["models"] == [
        {"name": "iris", "version": "1", "run_id": run.id}
    ]


def test_create_from_azure_yaml(ws: Path, iris: tuple[Path, Any, Any]) -> None:
    folder = iris[0]
    spec = folder.parent / "model.yml"
    spec.write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/model.schema.json\n"
        "name: iris-yaml\n"
        "version: 4\n"
        f"path: ./{folder.name}\n"
        "description: Iris classifier.\n"
        "tags: {framework: sklearn}\n"
    )
    created = as_json(ws, "model", "create", "-f", str(spec))
    assert (created["name"], created["version"]) == ("iris-yaml", "4")
    assert created["type"] == "mlflow_model"  # detected: the YAML names no type
    assert created["description"] == "Iris classifier."
    assert created["tags"] == {"framework": "sklearn"}
    renamed = as_json(
        ws, "model", "create", "-f", str(spec), "--name", "iris-b", "--type", "custom_model"
    )
    assert (renamed["name"], renamed["version"], renamed["type"]) == ("iris-b", "4", "custom_model")
    bad = folder.parent / "bad-model.yml"
    bad.write_text("name: [x\n")
    assert str(bad) in user_error(ws, "model", "create", "-f", str(bad))


def test_delete_asks_unless_yes(ws: Path, iris: tuple[Path, Any, Any]) -> None:
    for _ in range(2):
        ok(ws, "model", "create", "-n", "iris", "-p", str(iris[0]))
    refused = mw(ws, "model", "delete", "--name", "iris", "--version", "1", input="n\n")
    assert refused.exit_code == 1
    assert [v["version"] for v in as_json(ws, "model", "list", "-n", "iris")] == ["2", "1"]
    ok(ws, "model", "delete", "--name", "iris", "--version", "1", input="y\n")
    assert [v["version"] for v in as_json(ws, "model", "list", "-n", "iris")] == ["2"]
    ok(ws, "model", "delete", "--name", "iris", "--yes")
    assert as_json(ws, "model", "list") == []
    assert "No model named 'iris'" in user_error(ws, "model", "delete", "--name", "iris", "--yes")


def test_errors(ws: Path, tmp_path: Path) -> None:
    message = user_error(ws, "model", "create", "--name", "m", "--path", str(tmp_path / "none"))
    assert "neither a runs:/ or models:/ URI nor an existing path" in message
    assert "No model named 'ghost'" in user_error(ws, "model", "show", "ghost:1")
    for args in (
        ("model", "show"),
        ("model", "create", "--path", "x"),
        ("model", "set-alias", "-n", "m"),
    ):
        result = mw(ws, *args)
        assert result.exit_code == 2, (args, result.stderr)
