"""Starting workers: forked by the zygote (a process with the libraries imported) when the
environment allows it, spawned otherwise; a forked worker serves, and its exit is seen."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from modelworks.endpoints._doorbell import Doorbell, bell_path, ring
from modelworks.endpoints._launcher import ForkedProcess, Launcher
from modelworks.endpoints._workers import socket_dir
from modelworks.serving.upstream import Instance, probe
from modelworks.serving.zygote import compatible


def test_which_environments_a_zygote_can_give() -> None:
    base = {"PATH": "/bin", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    assert compatible(base, {**base, "AZUREML_MODEL_DIR": "/m", "MY_SETTING": "x"})
    assert not compatible(base, {**base, "OMP_NUM_THREADS": "2"})
    assert not compatible(base, {**base, "PYTHONPATH": "/elsewhere"})
    assert not compatible(base, {**base, "MODELWORKS_NO_ZYGOTE": "1"})
    assert not compatible(base, {k: v for k, v in base.items() if k != "OMP_NUM_THREADS"})


def test_the_doorbell_wakes_its_host(tmp_path: Path) -> None:
    path = bell_path(tmp_path, socket_dir())
    ring(path)  # nobody listens: nothing happens
    rung = threading.Event()

    async def go() -> None:
        bell = Doorbell(path, rung.set)
        await bell.start()
        await asyncio.get_running_loop().run_in_executor(None, ring, path)
        for _ in range(100):
            if rung.is_set():
                break
            await asyncio.sleep(0.02)
        bell.close()

    asyncio.run(go())
    assert rung.is_set() and not path.exists()


@pytest.fixture(scope="module")
def sklearn_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from modelworks.registry import save_model

    X, y = make_classification(n_samples=200, n_features=4, random_state=0)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(4)])
    path = tmp_path_factory.mktemp("launcher") / "model"
    save_model(LogisticRegression().fit(frame, y), path, input_example=frame.head(2))
    return path


def _config(tmp_path: Path, model_dir: Path, name: str) -> tuple[list[str], str]:
    uds = str(tmp_path / f"{name}.sock")
    config = tmp_path / f"{name}.json"
    config.write_text(
        json.dumps({"model_dir": str(model_dir), "deployment": name, "uds": uds, "instance": 0})
    )
    return ["--config", str(config)], uds


async def _ready(uds: str, process: object, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    instance = Instance(uds=uds)
    while time.monotonic() < deadline:
        if getattr(process, "poll")() is not None:  # noqa: B009 - Popen or ForkedProcess
            return False
        if os.path.exists(uds) and await probe(instance, "/ready", 2):
            instance.close()
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.slow
def test_zygote_forks_serving_workers_and_reports_their_exit(
    tmp_path: Path, sklearn_dir: Path
) -> None:
    launcher = Launcher(
        socket_path=Launcher.socket_for(f"test-{os.getpid()}", socket_dir()),
        log_path=tmp_path / "zygote.log",
    )
    launcher.start()
    env = {**launcher.env, "AZUREML_MODEL_DIR": str(sklearn_dir), "MY_SETTING": "on"}
    log = tmp_path / "worker.log"

    async def go() -> None:
        argv, uds = _config(tmp_path, sklearn_dir, "forked")
        forked = await launcher.spawn(argv, env=env, cwd=str(tmp_path), log_path=log)
        assert isinstance(forked, ForkedProcess)
        assert await _ready(uds, forked)
        assert forked.poll() is None
        os.kill(forked.pid, signal.SIGKILL)
        assert await asyncio.get_running_loop().run_in_executor(None, forked.wait, 10) == -9

        argv, uds = _config(tmp_path, sklearn_dir, "graceful")
        second = await launcher.spawn(argv, env=env, cwd=str(tmp_path), log_path=log)
        assert await _ready(uds, second)
        second.terminate()  # SIGTERM: the worker closes gracefully
        assert await asyncio.get_running_loop().run_in_executor(None, second.wait, 20) == 0

        # thread settings of its own: spawned as a fresh process instead
        argv, uds = _config(tmp_path, sklearn_dir, "spawned")
        spawned = await launcher.spawn(
            argv, env={**env, "OMP_NUM_THREADS": "2"}, cwd=str(tmp_path), log_path=log
        )
        assert isinstance(spawned, subprocess.Popen)
        assert await _ready(uds, spawned)
        spawned.terminate()
        spawned.wait(20)

    try:
        asyncio.run(go())
    finally:
        launcher.stop()
    assert (launcher.forked, launcher.spawned) == (2, 1)
    assert "Loaded forked" in log.read_text() and "Loaded spawned" in log.read_text()
    assert not launcher.alive and not launcher.socket_path.exists()


@pytest.mark.slow
def test_prestart_starts_one_host_that_ensure_host_then_uses(tmp_path: Path) -> None:
    import modelworks as mw
    from modelworks.endpoints._detached import launch, prestart
    from modelworks.endpoints._doorbell import answering
    from modelworks.endpoints.host import ensure_host, runtime_dir, stop_host

    ws = mw.Workspace(tmp_path / "ws")
    bell = bell_path(runtime_dir(ws), socket_dir())
    assert not answering(bell)
    prestart(ws.location)
    first = launch(ws.location, runtime_dir(ws))  # the one prestart started, not a second
    prestart(ws.location)
    assert launch(ws.location, runtime_dir(ws)) is first
    try:
        host = ensure_host(ws)
        assert host.pid == first.pid
        assert answering(bell)
        prestart(ws.location)  # a host answers: nothing is started
        assert launch(ws.location, runtime_dir(ws)) is first
    finally:
        assert stop_host(ws)
        first.wait(timeout=30)
        ws.close()
    assert not answering(bell)
