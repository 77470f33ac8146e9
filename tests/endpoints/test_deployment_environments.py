"""Deployments in their own environment: built once (cached), workers spawned with its python,
a failed build fails the new deployment with pip's message while the old one keeps serving.

The environment is a real virtualenv built offline: a tiny local wheel (``--no-index``) plus
``numpy``, which the layered environment finds in this interpreter's site-packages.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelworks as mw
from _wheels import make_wheel
from modelworks.endpoints.host import start_all
from modelworks.endpoints.operations import DeploymentFailedError

pytestmark = pytest.mark.slow

SCORE_PY = """
import json, os, sys
import numpy
import tinypkg

def init():
    print("init in", sys.prefix)

def run(raw_data):
    return {"value": tinypkg.VALUE, "prefix": sys.prefix, "python": sys.executable,
            "numpy": numpy.__version__}
"""


@pytest.fixture
def hosted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[mw.Workspace]:
    """A local workspace with its endpoint host in this process (``ws.host``: its handle)."""
    monkeypatch.setenv("MODELWORKS_ENV_CACHE", str(tmp_path / "env-cache"))
    monkeypatch.setenv("MODELWORKS_ENV_BUILDER", "pip")
    ws = mw.Workspace(tmp_path / "ws")
    handle = start_all(ws)
    ws.host = handle  # type: ignore[attr-defined]
    try:
        yield ws
    finally:
        handle.stop()
        ws.close()


def _deployment(tmp_path: Path, name: str, environment: object) -> dict[str, object]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "score.py").write_text(SCORE_PY)
    return {
        "name": name,
        "endpoint_name": "envs",
        "code_configuration": {"code": str(code), "scoring_script": "score.py"},
        "environment": environment,
        "readiness_probe": {"period": 1, "failure_threshold": 60},
    }


def test_a_deployment_runs_in_its_own_built_environment(
    hosted: mw.Workspace, tmp_path: Path
) -> None:
    wheel = make_wheel(tmp_path / "wheels", value="from the deployment's environment")
    environment = {"pip_requirements": ["--no-index", str(wheel), "numpy"]}
    hosted.online_endpoints.begin_create_or_update({"name": "envs"}).result()
    blue = hosted.online_deployments.begin_create_or_update(
        _deployment(tmp_path, "blue", environment), all_traffic=True
    ).result()
    assert blue.provisioning_state == "Succeeded"
    answer = json.loads(hosted.online_endpoints.invoke("envs", data={}))
    cache = tmp_path / "env-cache"
    assert answer["value"] == "from the deployment's environment"
    assert Path(answer["prefix"]).parent == cache, "the worker runs the environment's python"
    assert answer["python"] != sys.executable
    log = hosted.online_deployments.get_logs("blue", "envs", lines=500)
    assert "--- built environment envs/blue" in log and "tinypkg" in log

    # an update with a requirement that cannot be installed: Failed with pip's words,
    # while the running generation keeps serving
    broken = {"pip_requirements": ["--no-index", str(tmp_path / "missing-1.0-py3-none-any.whl")]}
    with pytest.raises(DeploymentFailedError, match=r"missing-1\.0-py3-none-any\.whl") as failed:
        hosted.online_deployments.begin_create_or_update(
            _deployment(tmp_path, "blue", broken)
        ).result()
    assert "installing the requirements" in str(failed.value)
    assert hosted.online_deployments.get("blue", "envs").provisioning_state == "Failed"
    again = json.loads(hosted.online_endpoints.invoke("envs", data={}))
    assert again["prefix"] == answer["prefix"]

    # the same environment again: cached, not rebuilt
    hosted.online_deployments.begin_create_or_update(
        _deployment(tmp_path, "blue", environment)
    ).result()
    log = hosted.online_deployments.get_logs("blue", "envs", lines=500)
    assert "--- using the cached environment envs/blue" in log


def test_inherit_and_curated_environments_keep_the_zygote_path(
    hosted: mw.Workspace, tmp_path: Path
) -> None:
    hosted.online_endpoints.begin_create_or_update({"name": "envs"}).result()
    for name, environment in (("inherit", "inherit"), ("curated", "AzureML-sklearn-1.5")):
        spec = _deployment(tmp_path, name, environment)
        (tmp_path / "plain").mkdir(exist_ok=True)
        (tmp_path / "plain" / "score.py").write_text(
            "import sys\n\ndef init():\n    pass\n\ndef run(raw_data):\n"
            "    return {'python': sys.executable}\n"
        )
        spec["code_configuration"] = {"code": str(tmp_path / "plain"), "scoring_script": "score.py"}
        hosted.online_deployments.begin_create_or_update(spec).result()
        answer = hosted.online_endpoints.invoke("envs", data={}, deployment_name=name)
        assert json.loads(answer)["python"] == sys.executable
    launcher = hosted.host.host.launcher  # type: ignore[attr-defined]
    if launcher is not None and launcher.alive:
        assert launcher.spawned == 0 and launcher.forked == 2
