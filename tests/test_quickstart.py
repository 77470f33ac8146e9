"""The README's first command: the quickstart — data asset → AutoML → registered model →
online endpoint → scored over HTTP with the key — runs end to end on a fresh workspace."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import modelworks as mw


@pytest.mark.slow
def test_quickstart_automl_registers_deploys_and_scores(tmp_path: Path) -> None:
    workspace = tmp_path / "qs"
    done = subprocess.run(
        [sys.executable, "-m", "modelworks.cli", "quickstart", "--workspace", str(workspace)],
        capture_output=True,
        text=True,
        timeout=600,
        # The test checks the pipeline, not the search: a shorter budget than the default 30 s
        # still leaves a busy machine time for several trials (it asserts two).
        env={**os.environ, "MODELWORKS_QUICKSTART_BUDGET": "20"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("[1/5]", "[2/5]", "[3/5]", "[4/5]", "[5/5]", "/score", "job list"):
        assert step in done.stdout
    for hint in ("regenerate-keys -n bank", "swagger", "AUC_weighted"):
        assert hint in done.stdout
    ws = mw.Workspace(workspace)
    try:
        _check_workspace(ws)
        _try_the_printed_curl(done.stdout)
    finally:
        from modelworks.endpoints.host import stop_host

        stop_host(ws)  # the quickstart leaves its endpoint host running for the user


def _try_the_printed_curl(stdout: str) -> None:
    """The ``try:`` line works as printed: its key, its sample file, its URL."""
    line = next(t for t in stdout.splitlines() if t.strip().startswith("try:"))
    key = re.search(r"Bearer (\S+)'", line)
    sample = re.search(r"-d @(\S+)", line)
    url = line.split()[-1]
    assert key and sample, line
    answer = httpx.post(
        url,
        content=Path(sample.group(1)).read_bytes(),
        headers={"Authorization": f"Bearer {key.group(1)}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["predictions"]) == 5


def _check_workspace(ws: mw.Workspace) -> None:
    version = ws.models.get("bank-clf@production")
    run = ws.runs.get(version.run_id or "")
    assert run.metrics["AUC_weighted"] > 0.75 and run.status == mw.RunStatus.COMPLETED
    assert run.params["task"] == "classification"
    trials = ws.runs.children(run.id)
    assert len(trials) >= 2 and all(t.tags.get("mw.automl.learner") for t in trials)
    lineage = ws.models.lineage("bank-clf@production")
    assert [e.name for e in lineage["data"]] == ["bank-marketing"]
