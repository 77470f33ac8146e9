"""Helpers of the schedule and pipeline-endpoint tests: a workspace on SQLite or PostgreSQL
and a small project (a command job with code)."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelworks as mw


def write_project(root: Path, schedule: str) -> Path:
    """``root/src/hello.py``, ``root/job.yml`` and ``root/schedule.yml``; returns the latter."""
    (root / "src").mkdir(parents=True, exist_ok=True)
    (root / "src" / "hello.py").write_text("print('hello v1')\n")
    (root / "job.yml").write_text(
        textwrap.dedent(
            """
            type: command
            code: ./src
            command: python hello.py --lr ${{inputs.lr}}
            inputs:
              lr: 0.1
            """
        ).lstrip()
    )
    path = root / "schedule.yml"
    path.write_text(textwrap.dedent(schedule).lstrip())
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def sched_ws(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[mw.Workspace]:
    """A local workspace folder whose database is SQLite or PostgreSQL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MODELWORKS_WORKER_IDLE_EXIT", "2")  # workers that invoke starts exit soon
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        ws = mw.Workspace(tmp_path / "ws", metadata_uri=url)
        _clear(ws)  # the session's database is shared: start without others' schedules
    else:
        ws = mw.Workspace(tmp_path / "ws")
    yield ws
    _clear(ws)
    ws.close()


def _clear(ws: mw.Workspace) -> None:
    for schedule in ws.schedules.list():
        ws.schedules.delete(schedule.name)
