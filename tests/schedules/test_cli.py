"""``modelworks schedule ...`` and ``modelworks pipeline ...`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from _schedules_support import write_project
from modelworks.cli import app

runner = CliRunner()


def mw(ws: Path, *args: str) -> Result:
    return runner.invoke(app, ["-w", str(ws), *args])


def ok(ws: Path, *args: str) -> Result:
    result = mw(ws, *args)
    assert result.exit_code == 0, f"{args}: {result.stderr}\n{result.stdout}\n{result.exception!r}"
    return result


def as_json(ws: Path, *args: str) -> Any:
    return json.loads(ok(ws, *args, "-o", "json").stdout)


def test_schedule_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    ws = tmp_path / "ws"
    path = write_project(
        tmp_path / "proj",
        """
        name: nightly
        trigger: {type: cron, expression: "30 2 * * 1-5", time_zone: W. Europe Standard Time}
        create_job: {job: ./job.yml, inputs: {lr: 0.2}}
        """,
    )
    created = as_json(ws, "schedule", "create", "-f", str(path))
    assert created["name"] == "nightly" and created["enabled"] is True
    assert "nightly" in ok(ws, "schedule", "list").stdout
    times = as_json(ws, "schedule", "next", "-n", "nightly", "--count", "3")
    assert len(times) == 3 and all(t.endswith("+00:00") for t in times)
    table = ok(ws, "schedule", "next", "-n", "nightly").stdout
    assert "02:30 CE" in table  # CET or CEST, the schedule's own zone
    assert as_json(ws, "schedule", "disable", "-n", "nightly")["enabled"] is False
    assert as_json(ws, "schedule", "enable", "-n", "nightly")["enabled"] is True
    shown = ok(ws, "schedule", "show", "-n", "nightly").stdout
    assert "cron '30 2 * * 1-5' (W. Europe Standard Time)" in shown
    ok(ws, "schedule", "delete", "-n", "nightly", "--yes")
    missing = mw(ws, "schedule", "show", "-n", "nightly")
    assert missing.exit_code != 0 and "does not exist" in missing.stderr
    bad = write_project(
        tmp_path / "bad",
        "name: bad\ntrigger: {type: cron, expression: '0 25 * * *'}\ncreate_job: ./job.yml\n",
    )
    failed = mw(ws, "schedule", "create", "-f", str(bad))
    assert failed.exit_code != 0 and "hour field: 25 is out of range 0-23" in failed.stderr


def test_pipeline_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELWORKS_WORKER_IDLE_EXIT", "1")
    ws = tmp_path / "ws"
    write_project(tmp_path / "proj", "name: unused\n")
    job = str(tmp_path / "proj" / "job.yml")
    published = as_json(ws, "pipeline", "publish", "-f", job, "--name", "retrain")
    assert published["keys"]["primaryKey"] and published["default_version"] == "1"
    assert "already shown once" in mw(ws, "pipeline", "get-credentials", "-n", "retrain").stderr
    again = ok(ws, "pipeline", "publish", "-f", job, "--name", "retrain", "--version", "v2").stdout
    assert "retrain:v2" in again and "shown once" not in again
    started = as_json(ws, "pipeline", "invoke", "-n", "retrain", "-i", "lr=0.25")
    assert started["version"] == "v2"
    unknown = mw(ws, "pipeline", "invoke", "-n", "retrain", "-i", "alpha=1")
    assert unknown.exit_code != 0 and "declares lr" in unknown.stderr
    runs = as_json(ws, "pipeline", "list-runs", "-n", "retrain")
    assert [r["job_name"] for r in runs] == [started["name"]]
    new = as_json(ws, "pipeline", "regenerate-keys", "-n", "retrain", "--key-type", "secondary")
    assert set(new) == {"secondaryKey"}
    assert [e["name"] for e in as_json(ws, "pipeline", "list")] == ["retrain"]
    assert "v2" in ok(ws, "pipeline", "show", "-n", "retrain").stdout
    assert as_json(ws, "pipeline", "disable", "-n", "retrain")["enabled"] is False
    ok(ws, "pipeline", "delete", "-n", "retrain", "--yes")
    assert mw(ws, "pipeline", "show", "-n", "retrain").exit_code != 0
