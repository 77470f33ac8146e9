"""``modelworks job create / stream / cancel``, ``environment`` and ``compute`` commands, on a
workspace whose worker runs in this process."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

import modelworks as mw
from _jobs_support import wait_for, write
from modelworks.cli import app

runner = CliRunner()


def cli(ws: mw.Workspace, *args: str) -> Result:
    return runner.invoke(app, ["-w", str(ws.root), *args])


def as_json(ws: mw.Workspace, *args: str) -> Any:
    result = cli(ws, *args, "-o", "json")
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def test_create_with_stream_and_set(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    write(tmp_path / "src", "hello.py", "import sys; print('hello', sys.argv[1])")
    spec = write(
        tmp_path,
        "job.yml",
        """
        type: command
        code: src
        command: python hello.py ${{inputs.who}}
        inputs:
          who: world
        experiment_name: cli-jobs
        """,
    )
    result = cli(jobs_ws, "job", "create", "-f", str(spec), "--stream", "--set", "inputs.who=cli")
    assert result.exit_code == 0, result.stderr
    assert "hello cli" in result.stdout
    assert "Completed" in result.stderr or "Completed" in result.stdout
    created = as_json(jobs_ws, "job", "create", "-f", str(spec), "--name", "named-one")
    assert created["name"] == "named-one" and created["status"] == "Queued"
    final = as_json(jobs_ws, "job", "stream", "named-one")
    assert final["status"] == "Completed"


def test_failed_job_exits_1_with_the_error_first(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    spec = write(
        tmp_path,
        "fail.yml",
        f"""
        command: {sys.executable} -c "import sys; sys.exit('bad data in row 3')"
        """,
    )
    result = cli(jobs_ws, "job", "create", "-f", str(spec), "--stream")
    assert result.exit_code == 1
    assert "Command exited with code 1" in result.stdout
    assert "bad data in row 3" in result.stdout
    assert "ended Failed" in result.stderr


def test_typo_and_invalid_spec_give_one_clear_message(
    jobs_ws: mw.Workspace, tmp_path: Path
) -> None:
    typo = write(tmp_path, "typo.yml", "type: command\ncomand: echo hi\n")
    result = cli(jobs_ws, "job", "create", "-f", str(typo))
    assert result.exit_code == 1
    message = " ".join(result.stderr.split())
    assert "typo.yml:2: unknown key 'comand' — did you mean 'command'?" in message
    bad = write(tmp_path, "bad.yml", "command: echo\nlimits:\n  timeout: -5\n")
    message = " ".join(cli(jobs_ws, "job", "create", "-f", str(bad)).stderr.split())
    assert "bad.yml" in message and "limits.timeout" in message and "greater than 0" in message


def test_cancel_command(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    spec = write(
        tmp_path, "sleep.yml", f"command: {sys.executable} -c 'import time; time.sleep(60)'\n"
    )
    created = as_json(jobs_ws, "job", "create", "-f", str(spec))
    wait_for(lambda: jobs_ws.jobs.get(created["name"]).status == mw.RunStatus.RUNNING)
    result = cli(jobs_ws, "job", "cancel", created["name"])
    assert result.exit_code == 0, result.stderr
    assert jobs_ws.jobs.wait(created["name"], timeout=30).status == mw.RunStatus.CANCELED
    shown = as_json(jobs_ws, "job", "show", created["name"])
    assert shown["status"] == "Canceled"


def test_environment_and_compute_commands(jobs_ws: mw.Workspace, tmp_path: Path) -> None:
    write(tmp_path, "conda.yml", "dependencies:\n  - python=3.11\n  - pip:\n    - tiny-pkg==1.0\n")
    env_yml = write(
        tmp_path,
        "env.yml",
        """
        $schema: https://azuremlschemas.azureedge.net/latest/environment.schema.json
        name: tiny-env
        image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04
        conda_file: conda.yml
        """,
    )
    created = as_json(jobs_ws, "environment", "create", "-f", str(env_yml))
    assert (created["name"], created["version"]) == ("tiny-env", "1")
    assert created["spec"]["requirements"] == ["tiny-pkg==1.0"]
    listed = as_json(jobs_ws, "environment", "list")
    assert [e["name"] for e in listed] == ["tiny-env"]
    shown = as_json(jobs_ws, "environment", "show", "tiny-env@latest")
    assert shown["dockerfile"].startswith("FROM mcr.microsoft.com/azureml/openmpi4.1.0")
    compute = as_json(
        jobs_ws,
        "compute",
        "create",
        "--name",
        "cluster",
        "--type",
        "ray",
        "--address",
        "127.0.0.1:6379",
    )
    assert compute["type"] == "ray"
    names = [c["name"] for c in as_json(jobs_ws, "compute", "list")]
    assert names == ["local", "cluster"]
    missing = cli(jobs_ws, "compute", "create", "--name", "r2", "--type", "ray")
    assert missing.exit_code == 1 and "needs --address" in missing.stderr
    assert cli(jobs_ws, "compute", "delete", "cluster").exit_code == 0


def test_workers_command_lists_and_stops(jobs_ws: mw.Workspace) -> None:
    listed = as_json(jobs_ws, "job", "workers")
    assert len(listed) == 1 and listed[0]["pid"] > 0
    result = cli(jobs_ws, "job", "workers", "--stop")
    assert result.exit_code == 0
    wait_for(lambda: not jobs_ws.jobs.live_workers(), timeout=15)
