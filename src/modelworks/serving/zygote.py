"""A warm parent for worker processes: imports the heavy libraries once, then forks workers.

Starting a worker with ``python -m modelworks.serving.worker`` spends one to two seconds
importing numpy, pandas, scikit-learn and LightGBM before it loads a model of a few
kilobytes; creating a deployment would wait for that every time. The endpoint host instead
starts one zygote (``python -m modelworks.serving.zygote --socket PATH``) when it starts; the
zygote imports those libraries (and the serving runtime), then listens on a Unix socket, and
for each request forks a child that becomes the worker: a deployment's worker is then ready in
the time it takes to fork and load its model. Workers asked for while it still imports wait
for it (the host waits for the socket): on a small machine that beats several fresh
processes importing the same libraries at once, as when a restarted host brings back many
deployments. Forked children also share the libraries' memory with the zygote until they
write to it.

The protocol is one connection per worker, JSON lines:

- host → zygote: ``{"argv": [...], "env": {...}, "cwd": "...", "log": "<file>"}``;
- zygote → host: ``{"pid": N}`` once forked, then ``{"exit": code}`` when the child ends
  (negative for a signal, as in :mod:`subprocess`), and the connection closes.

The child replaces its environment with ``env``, changes to ``cwd``, sends its output to
``log`` (appended) and runs ``python -m modelworks.serving.worker`` with ``argv``, exactly as a
spawned worker would; its parent is the zygote, and it exits when the zygote goes (which
exits when the host goes). Only environments the imported libraries do not read at import
time can differ from the zygote's (see :func:`compatible`); the host spawns anything else.

The zygote never runs a model and never starts a thread, so forking it is safe.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import sys
import time
import traceback
from collections.abc import Mapping

__all__ = ["PRELOAD", "PRELOAD_LATER", "compatible", "main"]

#: What the zygote imports before it listens (the ones missing are skipped).
PRELOAD = (
    "orjson",
    "httptools",
    "uvloop",
    "modelworks.serving.worker",
    "modelworks.serving.app",
    "modelworks.serving._http",
    "numpy",
    "pandas",
    "modelworks.registry",
    "modelworks.registry.pyfunc",
    "modelworks.serving.nocode",
    "modelworks.serving.batching",
    "modelworks.serving.script",
    "modelworks.serving._lgbm",
    "scipy.special",
    "sklearn.base",
    "sklearn.linear_model",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.tree",
    "sklearn.ensemble",
)

#: Imported after the zygote listens, between fork requests: a worker forked before they are
#: in imports what it needs itself, and the first no-code scikit-learn worker of a cold host
#: does not wait for them.
PRELOAD_LATER = ("lightgbm", "xgboost", "onnxruntime")

#: Environment variables read when a library is loaded: a worker whose value differs from
#: the zygote's must be spawned afresh.
IMPORT_TIME_PREFIXES = (
    "PYTHON",
    "LD_",
    "OMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO",
    "BLIS_",
    "VECLIB_",
    "NUMEXPR_",
    "MALLOC",
    "CUDA",
    "XGBOOST",
    "ORT_",
    "SKLEARN_",
    "MODELWORKS_NO_ZYGOTE",
)


def compatible(zygote_env: Mapping[str, str], env: Mapping[str, str]) -> bool:
    """Whether a worker with ``env`` may be forked from a zygote started with ``zygote_env``."""
    if env.get("MODELWORKS_NO_ZYGOTE"):
        return False
    keys = {k for k in (*zygote_env, *env) if k.startswith(IMPORT_TIME_PREFIXES)}
    return all(zygote_env.get(k) == env.get(k) for k in keys)


def _send(connection: socket.socket, message: dict[str, object]) -> None:
    with contextlib.suppress(OSError):
        connection.sendall(json.dumps(message).encode() + b"\n")


def _child(request: dict[str, object], start_dir: str) -> None:
    """In the forked child: become the worker (never returns)."""
    code = 1
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(str(request["log"]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        env = request.get("env")
        if isinstance(env, dict):
            os.environ.clear()
            os.environ.update({str(k): str(v) for k, v in env.items()})
        cwd = str(request.get("cwd") or start_dir)
        os.chdir(cwd)
        if sys.path and sys.path[0] == start_dir:
            sys.path[0] = cwd  # as `python -m` started in cwd would have it
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()  # fresh global state, as a new process has
        argv = request.get("argv")
        argv = [str(a) for a in argv] if isinstance(argv, list) else []
        sys.argv = ["modelworks.serving.worker", *argv]
        from modelworks.serving.worker import main as worker_main

        try:
            worker_main(argv)
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001 - the worker's log says why
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class _Zygote:
    """The fork server (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.parent = os.getppid()
        self.start_dir = os.getcwd()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.selector = selectors.DefaultSelector()
        self.children: dict[int, socket.socket] = {}
        self.buffers: dict[socket.socket, bytes] = {}
        self.stopping = False
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def stop(self, *_: object) -> None:
        self.stopping = True

    @property
    def running(self) -> bool:
        return not self.stopping and os.getppid() == self.parent

    def preload(self, names: tuple[str, ...]) -> list[str]:
        """Import ``names`` (before listening: workers asked for meanwhile wait, which beats
        several processes importing the same libraries at once on a small machine)."""
        loaded = []
        for name in names:
            if not self.running:
                break
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - an optional library missing or broken: skip it
                continue
            loaded.append(name)
        return loaded

    def listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        partial = self.path + ".starting"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        self.listener.bind(partial)
        self.listener.listen(64)
        os.replace(partial, self.path)  # the socket appears only once it accepts
        self.selector.register(self.listener, selectors.EVENT_READ)

    def step(self, timeout: float) -> None:
        """Answer fork requests and report children that ended (waits at most ``timeout``)."""
        for key, _ in self.selector.select(timeout=timeout):
            sock = key.fileobj
            if sock is self.listener:
                with contextlib.suppress(OSError):
                    connection, _ = self.listener.accept()
                    self.selector.register(connection, selectors.EVENT_READ)
                    self.buffers[connection] = b""
                continue
            assert isinstance(sock, socket.socket)
            self._read(sock)
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            reporter = self.children.pop(pid, None)
            if reporter is not None:
                _send(reporter, {"exit": os.waitstatus_to_exitcode(status)})
                reporter.close()

    def _read(self, sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.selector.unregister(sock)
            self.buffers.pop(sock, None)
            sock.close()
            return
        self.buffers[sock] += data
        if b"\n" not in self.buffers[sock]:
            return
        line, _, _ = self.buffers.pop(sock).partition(b"\n")
        self.selector.unregister(sock)
        try:
            request = json.loads(line)
        except ValueError:
            sock.close()
            return
        pid = os.fork()
        if pid == 0:
            self.selector.close()
            self.listener.close()
            for other in self.children.values():
                with contextlib.suppress(OSError):
                    other.close()
            _child(request, self.start_dir)
        self.children[pid] = sock
        _send(sock, {"pid": pid})

    def close(self) -> None:
        """The host is gone or asked us to stop: so do the workers."""
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
            else:
                self.children.pop(pid, None)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m modelworks.serving.zygote")
    parser.add_argument("--socket", required=True, help="Unix socket path to listen on")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    zygote = _Zygote(args.socket)
    try:
        loaded = zygote.preload(PRELOAD)
        zygote.listen()
        print(
            f"zygote {os.getpid()}: imported {len(loaded)} modules in "
            f"{time.perf_counter() - started:.2f} s; listening on {args.socket}",
            file=sys.stderr,
            flush=True,
        )
        later = list(PRELOAD_LATER)
        while zygote.running:
            zygote.step(0.0 if later else 0.05)
            if later:
                zygote.preload((later.pop(0),))
    finally:
        zygote.close()


if __name__ == "__main__":
    main()
