"""``LocalExecutor``: a job's command as a child process group on this machine.

The command runs under ``/bin/sh -c`` (Azure ML's ``command`` is a shell line) in a new
session, so the job and everything it starts share one process group that cancellation can
kill at once; psutil also finds descendants that left the group. One thread per execution
reads stdout and stderr with ``selectors``, keeping the order lines arrived in.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time
from typing import IO, Any

from modelworks.compute.base import Execution, Executor, ProcessSpec
from modelworks.errors import InvalidInputError

__all__ = ["LocalExecution", "LocalExecutor", "kill_process_tree"]

_READ_SIZE = 65536


def kill_process_tree(pid: int, *, grace_s: float = 3.0, pgid: int | None = None) -> None:
    """SIGTERM ``pid``, its process group ``pgid`` and all descendants; SIGKILL what is left
    after ``grace_s``."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        procs = []
    group = pgid if pgid is not None else pid

    def signal_all(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, sig)
        for proc in procs:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                proc.send_signal(sig)

    signal_all(signal.SIGTERM)
    _gone, alive = psutil.wait_procs(procs, timeout=grace_s) if procs else ([], [])
    signal_all(signal.SIGKILL)
    if alive:
        psutil.wait_procs(alive, timeout=2.0)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class LocalExecution(Execution):
    """A running child process group and the thread reading its output."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self._chunks: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._cancelled = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name="job-output")
        self._reader.start()

    def _read_loop(self) -> None:
        selector = selectors.DefaultSelector()
        decoders = {}
        for name, pipe in (("stdout", self.process.stdout), ("stderr", self.process.stderr)):
            if pipe is not None:
                selector.register(pipe, selectors.EVENT_READ, name)
                decoders[name] = codecs.getincrementaldecoder("utf-8")(errors="replace")
        exited_at: float | None = None
        while selector.get_map():
            events = selector.select(timeout=0.2)
            for key, _ in events:
                stream: IO[bytes] = key.fileobj  # type: ignore[assignment]
                data = os.read(stream.fileno(), _READ_SIZE)
                if not data:
                    selector.unregister(stream)
                    tail = decoders[key.data].decode(b"", final=True)
                    if tail:
                        self._push(key.data, tail)
                    continue
                text = decoders[key.data].decode(data)
                if text:
                    self._push(key.data, text)
            if not events and self.process.poll() is not None:
                # The shell exited but something it started still holds a pipe open: give it
                # a moment, then stop waiting for EOF (the group is killed in wait()).
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 1.0:
                    break
        selector.close()

    def _push(self, stream: str, text: str) -> None:
        with self._lock:
            if self._chunks and self._chunks[-1][0] == stream:
                self._chunks[-1] = (stream, self._chunks[-1][1] + text)
            else:
                self._chunks.append((stream, text))

    def read(self) -> list[tuple[str, str]]:
        with self._lock:
            out, self._chunks = self._chunks, []
        return out

    def wait(self, timeout: float | None = None) -> int | None:
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        if _group_alive(self.process.pid):  # background children the command left behind
            kill_process_tree(self.process.pid, grace_s=1.0)
        self._reader.join(timeout=5.0)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        return code

    def cancel(self, grace_s: float = 3.0) -> None:
        import psutil

        self._cancelled = True
        pid = self.process.pid
        try:
            descendants = psutil.Process(pid).children(recursive=True)
        except psutil.NoSuchProcess:
            descendants = []

        def signal_all(sig: int) -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
            for proc in descendants:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    proc.send_signal(sig)

        signal_all(signal.SIGTERM)
        started = time.monotonic()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace_s)  # reaped here, so its exit status is kept
        left = max(0.1, grace_s - (time.monotonic() - started))
        psutil.wait_procs(descendants, timeout=left)
        signal_all(signal.SIGKILL)
        self.wait(timeout=grace_s + 5.0)

    @property
    def pid(self) -> int:
        return self.process.pid

    def describe(self) -> dict[str, Any]:
        started = None
        with contextlib.suppress(Exception):
            import psutil

            started = int(psutil.Process(self.process.pid).create_time() * 1000)
        return {"pid": self.process.pid, "pid_started_at": started}


class LocalExecutor(Executor):
    """Runs commands as child processes of this (worker) process."""

    kind = "local"

    def start(self, spec: ProcessSpec) -> LocalExecution:
        if not os.path.isdir(spec.cwd):
            raise InvalidInputError(f"Job working folder {spec.cwd!r} does not exist.")
        process = subprocess.Popen(
            ["/bin/sh", "-c", spec.command],
            cwd=spec.cwd,
            env=spec.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            close_fds=True,
        )
        return LocalExecution(process)
