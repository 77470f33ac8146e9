"""The Executor contract, run against every executor: local child processes and a Ray cluster
(a head this test starts on 127.0.0.1). Then whole jobs on a registered Ray compute."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import modelworks as mw
from _jobs_support import wait_for, write
from modelworks.compute.base import Executor, ProcessSpec
from modelworks.compute.local import LocalExecutor
from modelworks.jobs import Output, command

HAVE_RAY = importlib.util.find_spec("ray") is not None  # not imported here: see compute/ray.py

needs_ray = pytest.mark.skipif(
    not HAVE_RAY, reason='Ray is not installed (pip install "modelworks[ray]")'
)


@pytest.fixture(scope="module")
def ray_head() -> Iterator[object]:
    from _ray_head import RayHead

    head = RayHead().start()
    yield head
    head.stop()


@pytest.fixture(params=["local", pytest.param("ray", marks=[pytest.mark.slow, needs_ray])])
def executor(request: pytest.FixtureRequest) -> Iterator[Executor]:
    if request.param == "local":
        yield LocalExecutor()
        return
    from modelworks.compute.ray import RayExecutor

    head = request.getfixturevalue("ray_head")
    found = RayExecutor(head.address)  # type: ignore[attr-defined]
    yield found
    found.close()


def _spec(tmp_path: Path, command: str) -> ProcessSpec:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    env = {**os.environ, "MODELWORKS_JOB_NAME": "contract", "GREETING": "hi"}
    return ProcessSpec(
        command=command,
        cwd=str(work),
        env=env,
        name="contract",
        job_vars=frozenset({"GREETING"}),
        path_prefix=str(Path(sys.executable).parent),
    )


def _drain(execution: object, timeout: float = 120.0) -> tuple[int, str]:
    out = []
    deadline = time.monotonic() + timeout
    while True:
        code = execution.wait(timeout=0.1)  # type: ignore[attr-defined]
        out.extend(text for _, text in execution.read())  # type: ignore[attr-defined]
        if code is not None:
            out.extend(text for _, text in execution.read())  # type: ignore[attr-defined]
            return code, "".join(out)
        assert time.monotonic() < deadline, "command did not finish"


def test_output_exit_code_and_variables(executor: Executor, tmp_path: Path) -> None:
    command = (
        'echo "$GREETING from $MODELWORKS_JOB_NAME"; python -c \'import sys; '
        'print("to stderr", file=sys.stderr)\'; mkdir -p outputs; echo done > outputs/f.txt; exit 3'
    )
    code, text = _drain(executor.start(_spec(tmp_path, command)))
    assert code == 3
    assert "hi from contract" in text and "to stderr" in text
    assert (tmp_path / "work" / "outputs" / "f.txt").read_text() == "done\n"


def test_cancel_stops_the_command_and_its_children(executor: Executor, tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    command = (
        f'python -c \'import subprocess, sys, time; p = subprocess.Popen([sys.executable, "-c", '
        f'"import time; time.sleep(300)"]); open("{pid_file}", "w").write(str(p.pid)); '
        'print("started", flush=True); time.sleep(300)\''
    )
    execution = executor.start(_spec(tmp_path, command))
    wait_for(lambda: pid_file.exists() and pid_file.read_text(), timeout=120)
    assert execution.wait(timeout=0.1) is None
    execution.cancel(grace_s=2.0)
    code = execution.wait(timeout=30)
    assert code is not None and code != 0
    from _jobs_support import pid_alive

    wait_for(lambda: not pid_alive(int(pid_file.read_text())), timeout=30)


@pytest.mark.slow
@needs_ray
def test_jobs_run_on_a_ray_compute(tmp_path: Path, ray_head: object) -> None:
    ws = mw.Workspace(tmp_path / "ws")
    address = ray_head.gcs_address  # type: ignore[attr-defined]
    ws.compute.create("cluster", type="ray", address=address)
    write(
        tmp_path / "src",
        "train.py",
        """
        import os, sys
        import modelworks as mw
        print("on ray", os.environ["MODELWORKS_JOB_NAME"], flush=True)
        mw.log_metric("auc", 0.75)
        os.makedirs("outputs", exist_ok=True)
        open("outputs/report.txt", "w").write("ray report")
        open(os.path.join(sys.argv[1], "model.txt"), "w").write("weights")
        """,
    )
    job = command(
        code=str(tmp_path / "src"),
        command="python train.py ${{outputs.model}}",
        outputs={"model": Output(type="custom_model", name="ray-model")},
        compute="azureml:cluster",
    )
    with ws.jobs.worker(poll_s=0.1):
        created = ws.jobs.create(job, start_worker=False)
        assert created.compute == "cluster"
        final = ws.jobs.wait(created.name, timeout=180)
        assert final.status == mw.RunStatus.COMPLETED, final.error
        assert f"on ray {created.name}" in ws.jobs.logs(created.name)
        assert ws.runs.get(final.id).metrics["auc"] == 0.75
        paths = {e.path for e in ws.runs.list_artifacts(final.id)}
        assert {"outputs/report.txt", "outputs/model/model.txt", "logs/std_log.txt"} <= paths
        assert ws.models.get("ray-model@latest").run_id == final.id
        failing = ws.jobs.create(
            command(command="python -c 'import sys; sys.exit(\"ray says no\")'", compute="cluster"),
            start_worker=False,
        )
        failed = ws.jobs.wait(failing.name, timeout=180)
        assert failed.status == mw.RunStatus.FAILED and "exited with code 1" in failed.error
    ws.close()
