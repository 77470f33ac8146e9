"""How the endpoint host starts worker processes: forked by its zygote when it can, else spawned.

The host starts one zygote (:mod:`modelworks.serving.zygote`) when it starts: a process that
has imported numpy, pandas, scikit-learn, LightGBM and the serving runtime and forks workers
on request, so a new deployment's worker only has to load its model. :meth:`Launcher.spawn`
asks the zygote when it runs (waiting for it while it is still importing, which is sooner
than a fresh interpreter would be, and cheaper than several importing at once) and the
worker's environment is one the zygote can give (:func:`~modelworks.serving.zygote.compatible`); otherwise — no zygote, a zygote that died,
``MODELWORKS_NO_ZYGOTE=1``, thread settings of its own, or an environment of its own (another
``python``) — it spawns ``<python> -m modelworks.serving.worker``.

Either way the caller gets a process handle with the part of :class:`subprocess.Popen` the
supervisor uses (``pid``, ``poll``, ``wait``, ``terminate``, ``kill``, ``send_signal``); a
forked worker's exit code comes from the zygote, which is its parent.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modelworks.serving.worker import ONE_THREAD_ENV
from modelworks.serving.zygote import compatible

__all__ = ["ForkedProcess", "Launcher", "spawn_worker"]

log = logging.getLogger("modelworks.endpoints.launcher")

ZYGOTE_WAIT_S = 30.0  # how long a spawn waits for a zygote that is still importing


class ForkedProcess:
    """A worker forked by the zygote: what :class:`subprocess.Popen` offers the supervisor."""

    def __init__(self, pid: int, connection: socket.socket, buffered: bytes) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._connection = connection
        self._buffer = buffered
        self._orphan = False
        connection.setblocking(False)
        self._read()

    def _read(self) -> None:
        while self.returncode is None and not self._orphan:
            try:
                data = self._connection.recv(4096)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                data = b""
            if not data:
                self._orphan = True  # the zygote is gone; the worker follows it shortly
                break
            self._buffer += data
            while b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                with contextlib.suppress(ValueError):
                    message = json.loads(line)
                    if isinstance(message, dict) and "exit" in message:
                        self.returncode = int(message["exit"])
        if self.returncode is not None:
            with contextlib.suppress(OSError):
                self._connection.close()

    def poll(self) -> int | None:
        if self.returncode is None:
            self._read()
        if self.returncode is None and self._orphan and not _alive(self.pid):
            self.returncode = -signal.SIGKILL
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            if self._orphan:
                time.sleep(min(0.05, remaining or 0.05))
            else:
                with contextlib.suppress(OSError, ValueError):
                    select.select([self._connection], [], [], min(0.1, remaining or 0.1))
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


class Launcher:
    """Starts the host's worker processes (see the module docstring)."""

    def __init__(self, *, socket_path: Path, log_path: Path) -> None:
        self.socket_path = socket_path
        self.log_path = log_path
        self.env = _zygote_env()
        self._process: subprocess.Popen[bytes] | None = None
        self._starts = 0
        self.forked = 0
        self.spawned = 0

    @staticmethod
    def socket_for(key: str, folder: Path) -> Path:
        return folder / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.zyg"

    def start(self) -> None:
        """Start the zygote in the background (it takes a few seconds to import)."""
        if os.environ.get("MODELWORKS_NO_ZYGOTE") or not hasattr(os, "fork"):
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)
        self._starts += 1
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as handle:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "modelworks.serving.zygote",
                    "--socket",
                    str(self.socket_path),
                ],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def revive(self) -> None:
        """Start the zygote again if it died (at most twice: one that keeps dying stays
        dead, and workers are spawned)."""
        if self._process is not None and self._process.poll() is not None and self._starts < 3:
            log.warning(
                "The worker zygote exited with code %s; starting it again (log: %s).",
                self._process.returncode,
                self.log_path,
            )
            self.start()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def spawn(
        self,
        argv: list[str],
        *,
        env: dict[str, str],
        cwd: str,
        log_path: Path,
        python: str | None = None,
    ) -> Any:
        """A worker process running ``python -m modelworks.serving.worker *argv``
        (``python``: another environment's interpreter, always spawned)."""
        own = python in (None, sys.executable)
        if own and self._process is not None and compatible(self.env, env):
            deadline = time.monotonic() + ZYGOTE_WAIT_S
            while self.alive and not self.socket_path.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if self.alive and self.socket_path.exists():
                loop = asyncio.get_running_loop()
                try:
                    forked = await loop.run_in_executor(None, self._fork, argv, env, cwd, log_path)
                except OSError as e:
                    log.warning("The zygote did not fork a worker (%s); spawning one.", e)
                else:
                    self.forked += 1
                    return forked
        self.spawned += 1
        return spawn_worker(python or sys.executable, argv, env=env, cwd=cwd, log_path=log_path)

    def _fork(self, argv: list[str], env: dict[str, str], cwd: str, log_path: Path) -> Any:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            connection.settimeout(10)
            connection.connect(str(self.socket_path))
            request = {"argv": argv, "env": env, "cwd": cwd, "log": str(log_path)}
            connection.sendall(json.dumps(request).encode() + b"\n")
            buffer = b""
            while b"\n" not in buffer:
                data = connection.recv(4096)
                if not data:
                    raise OSError("the zygote closed the connection")
                buffer += data
            line, _, rest = buffer.partition(b"\n")
            pid = int(json.loads(line)["pid"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            connection.close()
            raise OSError(str(e)) from e
        return ForkedProcess(pid, connection, rest)


def spawn_worker(
    python: str, argv: list[str], *, env: dict[str, str], cwd: str, log_path: Path
) -> subprocess.Popen[bytes]:
    """A fresh ``python -m modelworks.serving.worker *argv`` appending to ``log_path``."""
    with open(log_path, "ab") as log_file:
        return subprocess.Popen(
            [python, "-m", "modelworks.serving.worker", *argv],
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )


def _zygote_env() -> dict[str, str]:
    """The zygote's environment: the host's, with one math thread, as workers get it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for key in ("AZUREML_MODEL_DIR", "AML_APP_ROOT", "AZUREML_ENTRY_SCRIPT"):
        env.pop(key, None)
    env.update(ONE_THREAD_ENV)
    return env
