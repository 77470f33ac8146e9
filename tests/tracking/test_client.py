"""TrackingClient (ws.runs) and the fluent API, on a local workspace and through the server."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

import modelworks as mw
from modelworks.entities import RunStatus
from modelworks.errors import ConflictError, InvalidInputError, InvalidPathError, NotFoundError


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def test_fluent_run_logs_everything(ws: Any, tmp_path: Path) -> None:
    experiment = _name("bank")
    plot = tmp_path / "plot.png"
    plot.write_bytes(b"\x89PNG fake image bytes")
    with mw.start_run(experiment=experiment, workspace=ws) as run:
        mw.log_params({"C": 1.0, "solver": "lbfgs"})
        for step in range(100):
            mw.log_metric("auc", 0.8 + step / 1000, step=step)
        mw.log_metrics({"f1": 0.7, "precision": 0.75}, step=1)
        mw.set_tag("team", "risk")
        mw.log_artifact(plot)
        mw.log_dict({"a": 1}, "config/params.json")
        mw.log_text("hello", "notes.txt")
    got = ws.runs.get(run.id)
    assert got.status == RunStatus.COMPLETED and got.end_time is not None
    assert got.params == {"C": "1.0", "solver": "lbfgs"}
    assert got.metrics["auc"] == pytest.approx(0.899)
    assert got.tags["team"] == "risk" and got.tags["mw.system.python"]
    assert len(ws.runs.get_metric_history(run.id, "auc")) == 100
    paths = [e.path for e in ws.runs.list_artifacts(run.id)]
    assert paths == ["config/params.json", "notes.txt", "plot.png", "system/requirements.txt"]
    packages = ws.runs.download_artifacts(run.id, "system/requirements.txt", tmp_path / "sys")
    assert "modelworks==" in packages.read_text()
    out = ws.runs.download_artifacts(run.id, "config/params.json", tmp_path / "dl")
    assert json.loads(out.read_text()) == {"a": 1}
    found = ws.runs.search(
        experiment=experiment,
        filter="metrics.auc > 0.85 and params.C = '1.0'",
        order_by=["metrics.auc desc"],
    )
    assert [r.id for r in found] == [run.id]
    frame = found.to_pandas()
    assert frame.loc[0, "metrics.auc"] == pytest.approx(0.899)


def test_failed_run_records_the_error(ws: Any) -> None:
    with pytest.raises(ZeroDivisionError), mw.start_run(experiment=_name("f"), workspace=ws) as run:
        mw.log_metric("x", 1.0)
        1 / 0  # noqa: B018
    got = ws.runs.get(run.id)
    assert got.status == RunStatus.FAILED
    assert "ZeroDivisionError" in (got.error or "")
    assert got.metrics == {"x": 1.0}  # queued metrics were flushed before failing


def test_nested_runs_and_active_run_rules(ws: Any) -> None:
    experiment = _name("nest")
    with mw.start_run(experiment=experiment, workspace=ws) as parent:
        with pytest.raises(ConflictError, match="nested=True"):
            mw.start_run(workspace=ws)
        with mw.start_run(nested=True) as child:
            mw.log_metric("trial", 1.0)
        assert mw.active_run() is parent
    assert mw.active_run() is None
    assert ws.runs.get(child.id).parent_id == parent.id
    assert [r.id for r in ws.runs.children(parent.id)] == [child.id]


def test_params_are_immutable_and_validated(ws: Any) -> None:
    run = ws.runs.create(_name("p"))
    ws.runs.log_param(run.id, "C", 1)
    with pytest.raises(ConflictError, match="immutable"):
        ws.runs.log_param(run.id, "C", 2)
    with pytest.raises(InvalidInputError, match="6000"):
        ws.runs.log_param(run.id, "long", "x" * 7000)
    with pytest.raises(InvalidInputError, match="Invalid metric key"):
        ws.runs.log_metric(run.id, "bad key!", 1.0)
    with pytest.raises(InvalidInputError, match="must be numbers"):
        ws.runs.log_metric(run.id, "m", "high")
    with pytest.raises(InvalidPathError):
        ws.runs.log_text(run.id, "x", "../../escape.txt")
    ws.runs.end(run.id)


def test_unknown_experiment_in_search_names_existing(ws: Any) -> None:
    name = _name("known")
    ws.experiments.create(name)
    with pytest.raises(NotFoundError, match="Did you mean"):
        ws.runs.search(experiment=name + "x")


def test_experiments_operations(ws: Any) -> None:
    name = _name("ops")
    ws.experiments.create(name, tags={"k": "v"})
    assert ws.experiments.get(name).tags == {"k": "v"}
    ws.experiments.delete(name)
    assert name not in [e.name for e in ws.experiments.list()]
    ws.experiments.restore(name)
    assert name in [e.name for e in ws.experiments.list()]
