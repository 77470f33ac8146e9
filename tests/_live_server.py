"""A real ``modelworks server`` process on a free loopback port, for tests.

::

    with LiveServer(tmp_path / "ws") as (url, admin_token):
        store = RestMetadataStore(url, token=admin_token)

The server runs as ``python -m modelworks.server`` in a subprocess with
``MODELWORKS_ADMIN_TOKEN`` set (to a fresh random token unless one is given), so the test knows
an admin token without reading the server's output. Its log goes to ``<workspace>/server.log``
and is shown in the error if the server does not come up.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import httpx

__all__ = ["LiveServer", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """Start ``python -m modelworks.server`` on a workspace; stop it on exit.

    Unpacks as ``(url, admin_token)``; also exposes ``url``, ``admin_token``, ``process``,
    ``workspace`` and ``log_path``. ``env`` adds environment variables (for instance
    ``MODELWORKS_HEARTBEAT_TIMEOUT``); ``auth=False`` passes ``--no-auth``.
    """

    def __init__(
        self,
        workspace: str | os.PathLike[str],
        *,
        admin_token: str | None = None,
        auth: bool = True,
        env: dict[str, str] | None = None,
        startup_timeout_s: float = 60.0,
        log_level: str = "warning",
    ) -> None:
        self.workspace = Path(workspace)
        self.admin_token = admin_token or "mw_" + secrets.token_urlsafe(32)
        self.auth = auth
        self.extra_env = dict(env or {})
        self.startup_timeout_s = startup_timeout_s
        self.log_level = log_level
        self.port = 0
        self.url = ""
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.workspace / "server.log"

    def __iter__(self) -> Iterator[str]:
        return iter((self.url, self.admin_token))

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "modelworks.server",
            "--workspace",
            str(self.workspace),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            self.log_level,
        ]
        return cmd if self.auth else [*cmd, "--no-auth"]

    def start(self) -> LiveServer:
        """Start the process and wait until ``/health`` answers 200 (retrying a taken port)."""
        self.workspace.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "MODELWORKS_ADMIN_TOKEN": self.admin_token, **self.extra_env}
        env.pop("MODELWORKS_TOKEN", None)
        for _attempt in range(3):
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            with open(self.log_path, "ab") as log:
                self.process = subprocess.Popen(
                    self.command(), stdout=log, stderr=subprocess.STDOUT, env=env
                )
            if self._wait_healthy():
                return self
            if "address already in use" not in self.log().lower():
                break
        self.stop()
        raise RuntimeError(f"modelworks server did not start; its log:\n{self.log()}")

    def _wait_healthy(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.02)
        return False

    def log(self) -> str:
        """The server's output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL if it lingers."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
