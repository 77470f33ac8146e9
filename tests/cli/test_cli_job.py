"""``modelworks job ...`` on runs created through the SDK (ws.runs.create / log_metric / end)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import modelworks as mw_sdk
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


def user_error(ws: Path, *args: str) -> str:
    result = mw(ws, *args)
    assert result.exit_code == 1, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: "), result.stderr
    return " ".join(result.stderr.split())


@dataclass(frozen=True)
class Runs:
    ws: Path
    good: str
    better: str
    failed: str
    child: str


ERROR_TEXT = "\n".join(
    ["Traceback (most recent call last):"]
    + [f'  File "train.py", line {i}, in step_{i}' for i in range(40)]
    + ["ValueError: learning rate [0.5] is too high"]
)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("job-cli")
    ws_path = root / "ws"
    outputs = root / "outputs" / "scores"
    outputs.mkdir(parents=True)
    (outputs / "scores.csv").write_text("id,score\n1,0.5\n")
    with mw_sdk.Workspace(ws_path) as ws:
        good = ws.runs.create("bank", name="train-good", tags={"team": "risk"})
        ws.runs.log_params(good.id, {"C": 1.0, "penalty": "l2"})
        for step in range(5):
            ws.runs.log_metric(good.id, "loss", 1.0 / (step + 1), step=step)
        ws.runs.log_metric(good.id, "auc", 0.91)
        ws.runs.log_artifact(good.id, outputs, "outputs/scores")
        ws.runs.log_text(good.id, "hello", "notes/readme.txt")
        ws.runs.flush()
        ws.runs.end(good.id)
        better = ws.runs.create("bank", name="train-better")
        ws.runs.log_metric(better.id, "auc", 0.95)
        ws.runs.end(better.id)
        failed = ws.runs.create("other", name="train-failed")
        ws.runs.end(failed.id, "Failed", error=ERROR_TEXT)
        child = ws.runs.create("bank", name="trial-0", parent_id=good.id)
        ws.runs.end(child.id)
    return Runs(ws_path, good.id, better.id, failed.id, child.id)


def test_list_json_and_filters(runs: Runs) -> None:
    listed = as_json(runs.ws, "job", "list")
    assert {r["id"] for r in listed} == {runs.good, runs.better, runs.failed, runs.child}
    by_id = {r["id"]: r for r in listed}
    assert by_id[runs.good]["experiment"] == "bank"
    assert by_id[runs.good]["metrics"] == {"loss": 0.2, "auc": 0.91}
    assert by_id[runs.failed]["status"] == "Failed"

    other = as_json(runs.ws, "job", "list", "--experiment", "other")
    assert [r["id"] for r in other] == [runs.failed]
    both = as_json(runs.ws, "job", "list", "-e", "other", "-e", "bank")
    assert len(both) == 4
    good = as_json(runs.ws, "job", "list", "--filter", "metrics.auc > 0.9")
    assert {r["id"] for r in good} == {runs.good, runs.better}
    ordered = as_json(
        runs.ws, "job", "list", "--filter", "metrics.auc > 0", "--order-by", "metrics.auc desc"
    )
    assert [r["id"] for r in ordered] == [runs.better, runs.good]
    assert len(as_json(runs.ws, "job", "list", "--max-results", "1")) == 1


def test_list_table_shows_key_metrics(runs: Runs) -> None:
    out = ok(runs.ws, "job", "list", env={"COLUMNS": "160"}).stdout
    header = out.splitlines()[1].split()
    assert header[:6] == ["name", "id", "experiment", "status", "started", "duration"]
    assert header[6:] == ["auc", "loss"]  # most common metric first
    line = next(line for line in out.splitlines() if "train-good" in line)
    assert runs.good[:8] in line and "Completed" in line and "0.91" in line and "0.2" in line


def test_bad_filter_is_a_user_error(runs: Runs) -> None:
    assert "metrics.auc" in user_error(runs.ws, "job", "list", "--filter", "metrics.auc > 'x'")
    assert "No experiment named 'nope'" in user_error(runs.ws, "job", "list", "-e", "nope")


def test_show_by_id_name_and_prefix(runs: Runs) -> None:
    shown = as_json(runs.ws, "job", "show", runs.good)
    assert shown["name"] == "train-good" and shown["experiment"] == "bank"
    assert shown["params"] == {"C": "1.0", "penalty": "l2"}
    assert shown["metrics"] == {"loss": 0.2, "auc": 0.91}
    assert shown["tags"]["team"] == "risk"
    assert shown["children"] == [{"id": runs.child, "name": "trial-0", "status": "Completed"}]
    assert as_json(runs.ws, "job", "show", "train-good")["id"] == runs.good
    assert as_json(runs.ws, "job", "show", runs.good[:8])["id"] == runs.good
    table = ok(runs.ws, "job", "show", "train-good").stdout
    for text in ("train-good", "penalty", "l2", "loss", "team", "risk", "trial-0", "Child jobs"):
        assert text in table


def test_show_failed_job_prints_the_error_tail_first(runs: Runs) -> None:
    out = ok(runs.ws, "job", "show", "train-failed", env={"COLUMNS": "120"}).stdout
    assert "ValueError: learning rate [0.5] is too high" in out  # literal, not Rich markup
    assert out.index("ValueError") < out.index("Job train-failed")
    assert "step_39" in out and "step_5," not in out  # only the last lines
    assert as_json(runs.ws, "job", "show", runs.failed)["error"] == ERROR_TEXT


def test_unknown_and_ambiguous_jobs(runs: Runs, tmp_path: Path) -> None:
    assert "No job (run) with id or name 'ghost'" in user_error(runs.ws, "job", "show", "ghost")
    assert "No job" in user_error(runs.ws, "job", "show", "0" * 32)
    with mw_sdk.Workspace(runs.ws) as ws:
        twins = [ws.runs.create("twins", name="same-name").id for _ in range(2)]
        for run_id in twins:
            ws.runs.end(run_id)
    message = user_error(runs.ws, "job", "show", "same-name")
    assert "2 jobs match 'same-name'" in message and all(t in message for t in twins)


def test_metrics_history(runs: Runs) -> None:
    history = as_json(runs.ws, "job", "metrics", "train-good", "--key", "loss")
    assert [(m["step"], m["value"]) for m in history] == [
        (step, 1.0 / (step + 1)) for step in range(5)
    ]
    table = ok(runs.ws, "job", "metrics", "train-good", "--key", "loss").stdout
    assert "0.3333" in table
    message = user_error(runs.ws, "job", "metrics", "train-good", "--key", "accuracy")
    assert "no metric 'accuracy'" in message and "auc, loss" in message
    assert mw(runs.ws, "job", "metrics", "train-good").exit_code == 2  # --key is required


def test_download(runs: Runs, tmp_path: Path) -> None:
    named = as_json(
        runs.ws,
        "job",
        "download",
        "train-good",
        "--output-name",
        "scores",
        "--path",
        str(tmp_path / "a"),
    )
    assert named["artifact_path"] == "outputs/scores"
    assert Path(named["path"], "scores.csv").read_text() == "id,score\n1,0.5\n"

    one = as_json(
        runs.ws,
        "job",
        "download",
        runs.good,
        "--artifact-path",
        "notes/readme.txt",
        "-p",
        str(tmp_path / "b"),
    )
    assert Path(one["path"]).read_text() == "hello"

    everything = as_json(runs.ws, "job", "download", "train-good", "--path", str(tmp_path / "c"))
    root = Path(everything["path"])
    assert (root / "outputs" / "scores" / "scores.csv").is_file()
    assert (root / "notes" / "readme.txt").read_text() == "hello"

    message = user_error(
        runs.ws, "job", "download", "train-good", "--output-name", "nope", "-p", str(tmp_path)
    )
    assert "no output 'nope'" in message and "notes, outputs" in message
    both = mw(
        runs.ws, "job", "download", "train-good", "--output-name", "a", "--artifact-path", "b"
    )
    assert both.exit_code == 2
