"""``modelworks up``: the server and job workers in one process tree."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import modelworks as mw
from _jobs_support import pid_alive, wait_for, write
from _live_server import free_port
from modelworks.jobs import command


@pytest.mark.slow
def test_up_runs_server_and_workers(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    port = free_port()
    cli = str(Path(sys.executable).parent / "modelworks")
    process = subprocess.Popen(
        [
            cli,
            "-w",
            str(root),
            "up",
            "--port",
            str(port),
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "MODELWORKS_ADMIN_TOKEN": "mw_test_admin_token_for_up"},
        start_new_session=True,
    )
    try:
        wait_for(lambda: _healthy(port), timeout=60)
        ws = mw.Workspace(root)
        wait_for(lambda: ws.jobs.live_workers(), timeout=60)
        workers = ws.jobs.live_workers()
        write(
            tmp_path / "src",
            "log.py",
            "import os\nimport modelworks as mw\nmw.log_metric('m', 2.0)\n"
            "print(os.environ['MODELWORKS_WORKSPACE'])\n",
        )
        job = command(code=str(tmp_path / "src"), command="python log.py")
        created = ws.jobs.create(job)  # a worker is alive: none is started on demand
        final = ws.jobs.wait(created.name, timeout=120)
        assert final.status == mw.RunStatus.COMPLETED, final.error
        assert final.metrics["m"] == 2.0
        assert ws.jobs.logs(created.name).strip() == f"http://127.0.0.1:{port}"  # via the server
        assert [w.id for w in ws.jobs.live_workers()] == [w.id for w in workers]
        ws.close()
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    assert not any(pid_alive(w.pid) for w in workers)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
