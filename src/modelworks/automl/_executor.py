"""Where trials run: the :class:`TrialExecutor` port and its local process-pool adapter.

The search only needs a few things from an executor — how many trials it can run at once,
``submit`` a trial, ``wait`` for finished ones, ``shutdown`` — so the same loop sends trials
to local processes or to a Ray cluster (:func:`open_trial_executor` picks one from the run's
compute; the Ray adapter is :mod:`modelworks.compute.ray_trials`). :class:`LocalProcessExecutor` keeps
``n_workers`` worker processes (``python -m modelworks.automl._worker``), each loading the
trial data once. A trial that runs past its deadline (plus a grace period) has its worker
killed and is reported as ``timeout``; a worker that dies is reported as ``failed`` with the
tail of its stderr; either way a fresh worker takes its place for the next trial.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from modelworks.automl._trial import TrialResult, TrialSpec, stopped_result

if TYPE_CHECKING:
    from modelworks.automl.settings import AutoMLSettings

__all__ = [
    "THREAD_ENV",
    "LocalProcessExecutor",
    "TrialExecutor",
    "open_trial_executor",
    "trial_compute",
]

THREAD_ENV = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)


class TrialExecutor(Protocol):
    """Runs trials concurrently.

    ``capacity`` is the number of trials that may run at once; ``submit`` starts one (only
    while fewer than ``capacity`` run); ``wait`` blocks up to ``timeout`` seconds and returns
    the results that finished (a trial past ``spec.deadline + grace`` is stopped and comes
    back with status ``timeout``); ``running`` lists the specs still running; ``shutdown``
    stops everything at once. Implementations never raise for a failing trial: it comes back
    as a result with status ``failed``.
    """

    capacity: int

    def idle(self) -> int: ...

    def submit(self, spec: TrialSpec) -> None: ...

    def wait(self, timeout: float) -> list[TrialResult]: ...

    def running(self) -> list[TrialSpec]: ...

    def shutdown(self) -> None: ...


@dataclasses.dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    stderr_path: Path
    conn: Any = None
    spec: TrialSpec | None = None
    started: float = 0.0


class LocalProcessExecutor:
    """Trials in ``n_workers`` local worker processes sharing one pickled :class:`TrialData`."""

    def __init__(self, data_path: str, *, n_workers: int = 1, grace: float = 1.0) -> None:
        self.capacity = max(1, int(n_workers))
        self.grace = grace
        self._data_path = data_path
        self._authkey = secrets.token_bytes(16)
        self._dir = Path(tempfile.mkdtemp(prefix="modelworks-automl-workers-"))
        from multiprocessing.connection import Listener

        self._listener = Listener(
            str(self._dir / "socket"), family="AF_UNIX", authkey=self._authkey
        )
        self._pending: dict[int, _Worker] = {}
        self._ready: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        self._spawned = 0
        self._accepter = threading.Thread(target=self._accept_loop, daemon=True)
        self._accepter.start()
        for _ in range(self.capacity):
            self._spawn()

    # -- workers ----------------------------------------------------------------------------
    def _spawn(self) -> None:
        self._spawned += 1
        env = {**os.environ, "MODELWORKS_AUTOML_AUTHKEY": self._authkey.hex()}
        for name in THREAD_ENV:
            env[name] = "1"
        stderr_path = self._dir / f"worker-{self._spawned}.err"
        with open(stderr_path, "wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "modelworks.automl._worker", str(self._dir / "socket")],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=env,
            )
        with self._lock:
            self._pending[process.pid] = _Worker(process, stderr_path)

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn = self._listener.accept()
                _, pid = conn.recv()
            except Exception:  # noqa: BLE001 - a bad or closing connection; keep accepting
                if self._closed:
                    return
                continue
            conn.send(("load", self._data_path))
            with self._lock:
                worker = self._pending.pop(pid, None)
                if worker is None:
                    conn.close()
                    continue
                worker.conn = conn
                self._ready.append(worker)

    def _live(self) -> int:
        with self._lock:
            return len(self._pending) + len(self._ready) + len(self._busy)

    # -- the port ---------------------------------------------------------------------------
    def idle(self) -> int:
        """Workers connected and free now."""
        with self._lock:
            return len(self._ready)

    def submit(self, spec: TrialSpec) -> None:
        with self._lock:
            worker = self._ready.pop(0) if self._ready else None
        if worker is None:
            raise RuntimeError("no idle worker; call submit only when idle() > 0")
        worker.spec = spec
        worker.started = time.time()
        worker.conn.send(("trial", spec))
        with self._lock:
            self._busy.append(worker)

    def running(self) -> list[TrialSpec]:
        with self._lock:
            return [w.spec for w in self._busy if w.spec is not None]

    def wait(self, timeout: float) -> list[TrialResult]:
        from multiprocessing.connection import wait

        with self._lock:
            busy = list(self._busy)
        results: list[TrialResult] = []
        if busy:
            now = time.time()
            limit = min(w.spec.deadline + self.grace for w in busy if w.spec) - now
            ready = wait([w.conn for w in busy], timeout=max(0.0, min(timeout, limit)))
            for worker in busy:
                if worker.conn in ready:
                    results.append(self._collect(worker))
        elif timeout > 0:
            time.sleep(min(timeout, 0.05))
        now = time.time()
        with self._lock:
            overdue = [w for w in self._busy if w.spec and now > w.spec.deadline + self.grace]
        for worker in overdue:
            results.append(self._kill(worker, "timeout", "stopped: it ran past its time limit"))
        return results

    def _collect(self, worker: _Worker) -> TrialResult:
        spec = worker.spec
        assert spec is not None
        try:
            _, result = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.wait(timeout=5)
            tail = _tail(worker.stderr_path)
            return self._kill(
                worker,
                "failed",
                f"the worker process died (exit code {worker.process.returncode})"
                + (f": {tail}" if tail else ""),
            )
        with self._lock:
            self._busy.remove(worker)
            worker.spec = None
            self._ready.append(worker)
        return result

    def _kill(self, worker: _Worker, status: str, error: str) -> TrialResult:
        spec = worker.spec
        assert spec is not None
        worker.process.kill()
        worker.process.wait()
        if worker.conn is not None:
            worker.conn.close()
        with self._lock:
            if worker in self._busy:
                self._busy.remove(worker)
        if not self._closed:
            self._spawn()
        return stopped_result(spec, status, error, worker.started)

    def shutdown(self) -> None:
        self._closed = True
        with self._lock:
            workers = list(self._pending.values()) + self._ready + self._busy
            self._pending.clear()
            self._ready.clear()
            self._busy.clear()
        for worker in workers:
            if worker.conn is not None and worker.spec is None:
                with contextlib.suppress(OSError):
                    worker.conn.send(("stop", None))
        deadline = time.time() + 0.5
        for worker in workers:
            try:
                worker.process.wait(timeout=max(0.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        if self._accepter.is_alive():
            # Wake the accepting thread so it sees _closed and ends. A bare connection, not
            # multiprocessing's Client: that waits for the listener's challenge, forever when
            # the thread has ended meanwhile (a killed worker's half-made connection ends it).
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as wake:
                wake.settimeout(1.0)
                wake.connect(str(self._dir / "socket"))
        self._accepter.join(timeout=1.0)
        with contextlib.suppress(OSError):
            self._listener.close()
        import shutil

        shutil.rmtree(self._dir, ignore_errors=True)


_RAY_ADDRESS = re.compile(r"^(auto|ray://\S+|[\w.\-]+:\d+|\[[0-9a-fA-F:]+\]:\d+)$")


def trial_compute(
    compute: str | None, workspace: Any = None, *, strict: bool = True
) -> tuple[str | None, dict[str, Any]]:
    """Where trials run, from what a user named: ``(None, {})`` for local worker processes,
    else ``(ray_address, config)``.

    ``compute`` is ``None``/``"local"``, a Ray address (``auto``, ``host:6379``,
    ``ray://host:10001``) or the name of a compute registered in ``workspace`` (``azureml:``
    prefix allowed). An unknown name is an error when ``strict``, else local (as a job's
    ``compute:`` naming an Azure cluster that is not registered here).
    """
    if compute is None or compute.strip() in ("", "local", "azureml:local"):
        return None, {}
    text = compute.strip().removeprefix("azureml:")
    if workspace is not None:
        from modelworks.errors import NotFoundError

        try:
            record = workspace.compute.get(text)
        except NotFoundError:
            record = None
        if record is None and text == "ray":  # "the" Ray compute, as jobs take it
            rays = [c for c in workspace.compute.list() if c.type == "ray"]
            record = rays[0] if len(rays) == 1 else None
        if record is not None:
            if record.type == "ray":
                return _actor_address(str(record.address or "auto"), text), dict(
                    record.config or {}
                )
            return None, {}
    if text.startswith(("http://", "https://")):
        return _actor_address(text, text), {}
    if _RAY_ADDRESS.match(text):
        return text, {}
    if not strict:
        return None, {}
    from modelworks.errors import InvalidInputError

    where = (
        " registered in the workspace"
        if workspace is not None
        else " (pass workspace= to use a registered one)"
    )
    raise InvalidInputError(
        f"The 'compute' parameter must be 'local', a Ray address ('auto', 'host:6379', "
        f"'ray://host:10001') or the name of a compute{where}. Got {compute!r} instead."
    )


def _actor_address(address: str, name: str) -> str:
    if address.startswith(("http://", "https://")):
        from modelworks.errors import InvalidInputError

        raise InvalidInputError(
            f"Compute {name!r}: AutoML trials run as Ray actors, which need the cluster's GCS "
            f"address (host:6379) or a Ray Client address (ray://host:10001); {address!r} is "
            "the dashboard's Jobs API, which only command jobs use. Register the compute with "
            "one of those (`modelworks compute create --name NAME --type ray --address "
            "host:6379 --replace`)."
        )
    return address


def open_trial_executor(data_path: str, settings: AutoMLSettings, *, grace: float) -> Any:
    """The executor for a run's trials: local worker processes, or Ray actors on the cluster
    at ``settings.compute`` (without ``n_jobs``, one per CPU of the cluster)."""
    if settings.compute is None:
        return LocalProcessExecutor(data_path, n_workers=settings.workers, grace=grace)
    from modelworks.compute.ray_trials import RayTrialExecutor

    return RayTrialExecutor(
        data_path,
        address=settings.compute,
        n_workers=settings.trial_workers,
        grace=grace,
        runtime_env=settings.compute_config.get("runtime_env"),
    )


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])
