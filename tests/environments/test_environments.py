"""Environments: conda/pip specs → cached virtualenvs (uv or venv + pip), versioned assets,
and jobs that run in them. Wheels are built by the test, so no network is needed."""

from __future__ import annotations

import sys
from pathlib import Path

import psutil
import pytest

import modelworks as mw
from _jobs_support import run_job, wait_for, write
from _wheels import make_wheel
from modelworks.environments import Environment
from modelworks.environments.builder import find_uv
from modelworks.environments.conda import conda_to_pip
from modelworks.environments.resolve import normalise_spec, resolve_environment
from modelworks.errors import NotFoundError
from modelworks.jobs import command
from modelworks.specs import SpecWarning

PROBE = "import sys, tinypkg, modelworks; print(tinypkg.VALUE, sys.prefix)"


def test_conda_dependencies_map_to_pip() -> None:
    conda = {
        "name": "train",
        "channels": ["conda-forge"],
        "dependencies": [
            "python=3.10.4",
            "pip",
            "numpy=1.26",
            "scikit-learn==1.5.1=py310h_0",
            "conda-forge::pytorch>=2.1",
            "py-xgboost",
            "cudatoolkit=11.8",
            {"pip": ["mlflow==2.9.2", "azureml-mlflow"]},
        ],
    }
    with pytest.warns(SpecWarning, match=r"conda-only packages skipped.*cudatoolkit"):
        result = conda_to_pip(conda)
    assert result.python == "3.10"
    assert result.requirements == [
        "numpy==1.26.*",
        "scikit-learn==1.5.1",
        "torch>=2.1",
        "xgboost",
        "mlflow==2.9.2",
        "azureml-mlflow",
    ]


def test_normalise_reads_files_and_maps_images(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "wheels")
    reqs = write(tmp_path, "requirements.txt", "--no-index\n./wheels/" + wheel.name + "  # local\n")
    resolved = normalise_spec(Environment(pip_requirements=str(reqs)), label="x")
    assert resolved["kind"] == "venv"
    assert resolved["requirements"] == ["--no-index", str(wheel)]
    again = normalise_spec(Environment(pip_requirements=["--no-index", str(wheel)]), label="y")
    assert again["hash"] == resolved["hash"]  # same content, same environment
    with pytest.warns(SpecWarning, match=r"image 'ubuntu:22.04' cannot run here"):
        image_only = normalise_spec(Environment(image="ubuntu:22.04"))
    assert image_only["kind"] == "inherit" and image_only["image"] == "ubuntu:22.04"


def test_environment_assets_are_versioned(tmp_path: Path) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    spec = write(
        tmp_path,
        "env.yml",
        """
        name: train-env
        conda_file:
          dependencies:
            - pip:
              - tinypkg==1.0
        description: for training
        """,
    )
    first = ws.environments.create(spec)
    assert (first.name, first.version, first.description) == ("train-env", "1", "for training")
    assert ws.environments.create(spec).version == "1"  # identical spec: same version
    second = ws.environments.create(
        Environment(name="train-env", pip_requirements=["tinypkg==2.0"])
    )
    assert second.version == "2"
    assert ws.environments.get("train-env@latest").version == "2"
    assert ws.environments.get("azureml:train-env:1").spec["requirements"] == ["tinypkg==1.0"]
    assert [r.version for r in ws.environments.list("train-env")] == ["2", "1"]
    resolved = resolve_environment("azureml:train-env:1", store=ws.jobs.store)
    assert resolved["label"] == "train-env:1" and resolved["kind"] == "venv"
    with pytest.raises(
        NotFoundError, match=r"Unknown environment 'trian-env@latest'.*Did you mean 'train-env'"
    ):
        resolve_environment("trian-env@latest", store=ws.jobs.store)
    ws.close()


BUILDERS = [
    "pip",
    pytest.param("uv", marks=pytest.mark.skipif(find_uv() is None, reason="uv not installed")),
]


@pytest.mark.slow
@pytest.mark.parametrize("builder", BUILDERS)
def test_job_environment_is_built_once_and_cached(
    jobs_ws: mw.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builder: str
) -> None:
    monkeypatch.setenv("MODELWORKS_ENV_BUILDER", builder)
    wheel = make_wheel(tmp_path / "wheels", value=f"built with {builder}")
    env = {"pip_requirements": ["--no-index", str(wheel)]}
    job = command(command=f"python -c '{PROBE}'", environment=env)
    created = jobs_ws.jobs.create(job, start_worker=False)
    statuses = [
        v.status.value for k, v in jobs_ws.jobs.events(created.name, poll_s=0.05) if k == "status"
    ]
    first = jobs_ws.jobs.get(created.name)
    assert first.status == mw.RunStatus.COMPLETED, first.error
    assert "Preparing" in statuses
    log = jobs_ws.jobs.logs(created.name)
    assert f"built with {builder}" in log and "[modelworks] built environment" in log
    prefix = log.strip().splitlines()[-1].split()[-1]
    assert Path(prefix).parent == tmp_path / "env-cache"
    build_log = [
        e for e in jobs_ws.runs.list_artifacts(first.id, "logs") if "environment_build" in e.path
    ]
    assert build_log, "the build log is kept with the job"
    second = run_job(jobs_ws, command(command=f"python -c '{PROBE}'", environment=env))
    assert second.status == mw.RunStatus.COMPLETED
    second_log = jobs_ws.jobs.logs(second.name)
    assert "using cached environment" in second_log and prefix in second_log


@pytest.mark.slow
def test_failed_build_fails_the_job_with_the_log_tail(
    jobs_ws: mw.Workspace, tmp_path: Path
) -> None:
    env = {"pip_requirements": ["--no-index", str(tmp_path / "missing-1.0-py3-none-any.whl")]}
    final = run_job(jobs_ws, command(command="echo never", environment=env))
    assert final.status == mw.RunStatus.FAILED
    assert final.error.startswith(
        "Building the environment failed while installing the requirements"
    )
    assert "missing-1.0-py3-none-any.whl" in final.error
    assert "never" not in jobs_ws.jobs.logs(final.name)


@pytest.mark.slow
def test_cancel_while_preparing_stops_the_build(
    jobs_ws: mw.Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = tmp_path / "slowpkg"
    write(
        slow,
        "setup.py",
        "import time\ntime.sleep(120)\nfrom setuptools import setup\nsetup(name='slowpkg', version='1')\n",
    )
    monkeypatch.setenv("MODELWORKS_ENV_BUILDER", "pip")
    monkeypatch.setenv(
        "PIP_NO_BUILD_ISOLATION", "false"
    )  # build with what is installed: no network
    env = {"pip_requirements": ["--no-index", str(slow)]}
    created = jobs_ws.jobs.create(
        command(command="echo never", environment=env), start_worker=False
    )

    def building() -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter(["cmdline"]):
            cmdline = " ".join(proc.info["cmdline"] or [])
            if (
                "setup.py" in cmdline
                or (str(slow) in cmdline)
                or ("pip" in cmdline and "--python" in cmdline and "env-cache" in cmdline)
            ):
                found.append(proc)
        return found

    wait_for(lambda: jobs_ws.jobs.get(created.name).status == mw.RunStatus.PREPARING)
    wait_for(building, timeout=60)
    jobs_ws.jobs.cancel(created.name)
    final = jobs_ws.jobs.wait(created.name, timeout=30)
    assert final.status == mw.RunStatus.CANCELED
    wait_for(lambda: not building(), timeout=10)
    assert not list((tmp_path / "env-cache").glob("*/.complete"))


def test_python_pin_without_interpreter_warns(tmp_path: Path) -> None:
    from modelworks.environments.builder import find_python

    python, warning = find_python("2.7")
    assert python == sys.executable
    assert (
        warning is not None and "Python 2.7 was requested but no python2.7 is installed" in warning
    )
    assert find_python(f"{sys.version_info.major}.{sys.version_info.minor}") == (
        sys.executable,
        None,
    )


@pytest.mark.slow
def test_a_cached_environment_is_never_layered_over_another_interpreter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An environment imports modelworks from the interpreter that built it: a second
    virtualenv (another clone) gets its own, not one that points into the first (which would
    import the wrong modelworks, or none once that virtualenv is deleted)."""
    import subprocess

    from modelworks.environments.builder import materialise

    monkeypatch.setenv("MODELWORKS_ENV_BUILDER", "pip")
    resolved = {"kind": "venv", "hash": "ab" * 32, "requirements": []}
    first = materialise(resolved, root=tmp_path)
    assert materialise(resolved, root=tmp_path).path == first.path  # cached for this one
    probe = "import modelworks, sys; print(modelworks.__file__)"
    done = subprocess.run([first.python, "-c", probe], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == __import__("modelworks").__file__
    monkeypatch.setattr(sys, "prefix", str(tmp_path / "another-venv"))
    other = materialise(resolved, root=tmp_path)
    assert other.path != first.path and other.built
