"""A Ray head started by the tests on 127.0.0.1 (and only there), stopped by killing its own
process group — never ``ray stop``, which would stop every Ray on the machine."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayHead:
    """``ray start --head --block`` in its own session; ``address`` is the dashboard URL."""

    def __init__(self, num_cpus: int = 2) -> None:
        self.num_cpus = num_cpus
        self.temp = Path(tempfile.mkdtemp(prefix="mwray", dir="/tmp"))  # short: socket paths
        self.gcs_port = _port()
        self.dashboard_port = _port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}"

    @property
    def gcs_address(self) -> str:
        return f"127.0.0.1:{self.gcs_port}"

    def start(self, timeout: float = 90.0) -> RayHead:
        ray = str(Path(sys.executable).parent / "ray")
        env = {
            **os.environ,
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        argv = [
            ray,
            "start",
            "--head",
            "--block",
            "--node-ip-address=127.0.0.1",
            f"--port={self.gcs_port}",
            "--dashboard-host=127.0.0.1",
            f"--dashboard-port={self.dashboard_port}",
            f"--ray-client-server-port={_port()}",
            f"--dashboard-agent-listen-port={_port()}",
            f"--num-cpus={self.num_cpus}",
            "--include-dashboard=true",
            "--disable-usage-stats",
            f"--temp-dir={self.temp}",
        ]
        log = open(self.temp / "head.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("ray head exited:\n" + (self.temp / "head.log").read_text())
            try:
                if httpx.get(f"{self.address}/api/version", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        self.stop()
        raise RuntimeError("ray head did not come up:\n" + (self.temp / "head.log").read_text())

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            time.sleep(0.5)
            with contextlib.suppress(ProcessLookupError):  # stragglers of the same group
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self.temp, ignore_errors=True)
