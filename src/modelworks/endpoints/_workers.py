"""Worker processes of one deployment generation: start, readiness, liveness, restart, stop.

A :class:`WorkerGroup` starts ``instance_count`` processes of ``python -m
modelworks.serving.worker`` (each listening on its own Unix socket; forked by the host's
zygote when it can, see :mod:`modelworks.endpoints._launcher`), waits until every one
answers ``GET /ready`` (the readiness probe: at most ``initial_delay + period x
failure_threshold`` seconds, polled every 50 ms so a fast model is live in well under a
second), and exposes them to the gateway as a :class:`~modelworks.serving.gateway.Route`.
While it runs, a crashed worker (its process exited) or one failing its liveness probe
(``GET /``, ``failure_threshold`` times in a row) is taken out of the route, restarted and put
back once ready. Stopping waits for in-flight requests to finish (drain), then sends SIGTERM
(SIGKILL after a grace period).

All workers of a deployment append to one log file, ``<workspace>/endpoints/logs/<endpoint>/
<deployment>.log``; each line of the runtime's own logging names its instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modelworks.endpoints._doorbell import socket_dir
from modelworks.endpoints._launcher import Launcher, spawn_worker
from modelworks.serving.gateway import Route
from modelworks.serving.upstream import Instance, probe

__all__ = ["WorkerGroup", "WorkerStartError", "socket_dir"]

log = logging.getLogger("modelworks.endpoints.workers")

READY_POLL_S = 0.05
STOP_GRACE_S = 10.0


class WorkerStartError(Exception):
    """A worker exited or never became ready; the message has the end of its log."""


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' when missing), read from the end."""
    block = 64 * 1024
    try:
        with open(path, "rb") as handle:
            end = handle.seek(0, os.SEEK_END)
            start = end
            data = b""
            while start > 0 and data.count(b"\n") <= lines:
                start = max(0, start - block)
                handle.seek(start)
                data = handle.read(end - start)
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


class _Worker:
    def __init__(self, index: int, uds: str, process: Any, instance: Instance) -> None:
        self.index = index
        self.uds = uds
        self.process = process
        self.instance = instance
        self.started_at = time.time()
        self.liveness_failures = 0
        self.next_liveness = 0.0


class WorkerGroup:
    """The worker processes of one deployment generation (see the module docstring)."""

    def __init__(
        self,
        *,
        endpoint: str,
        deployment: str,
        generation: int,
        spec: dict[str, Any],
        config: dict[str, Any],
        env: dict[str, str],
        log_path: Path,
        run_dir: Path,
        on_restart: Any = None,
        launcher: Launcher | None = None,
        python: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.deployment = deployment
        self.generation = generation
        self.spec = spec
        self.config = config
        self.env = env
        self.log_path = log_path
        self.run_dir = run_dir
        self.on_restart = on_restart
        self.launcher = launcher
        #: the interpreter of the deployment's environment (the host's own: the zygote's)
        self.python = python or sys.executable
        self.count = int(spec.get("instance_count", 1))
        settings = spec.get("request_settings") or {}
        self.route = Route(
            deployment,
            [],
            generation=generation,
            max_concurrent=int(settings.get("max_concurrent_requests_per_instance", 1)),
            max_queue_wait_ms=float(settings.get("max_queue_wait_ms", 500)),
            request_timeout_ms=float(settings.get("request_timeout_ms", 5000)),
            max_body_bytes=int(settings.get("max_request_body_bytes", 16 * 1024 * 1024)),
        )
        readiness = spec.get("readiness_probe") or {}
        self.ready_timeout = float(readiness.get("initial_delay", 0)) + float(
            readiness.get("period", 10)
        ) * int(readiness.get("failure_threshold", 30))
        liveness = spec.get("liveness_probe") or {}
        self.live_period = float(liveness.get("period", 10))
        self.live_timeout = float(liveness.get("timeout", 2))
        self.live_failures = int(liveness.get("failure_threshold", 30))
        self.live_delay = float(liveness.get("initial_delay", 0))
        self.workers: list[_Worker] = []
        self.restarts = 0
        self.stopping = False
        self._spawned = 0
        self._supervisor: asyncio.Task[None] | None = None

    # -- processes --------------------------------------------------------------------------
    async def _spawn(self, index: int) -> _Worker:
        self._spawned += 1
        key = f"{self.run_dir}|{self.endpoint}|{self.deployment}|{self.generation}|{index}|{self._spawned}|{os.getpid()}"
        uds = str(socket_dir() / f"{hashlib.sha1(key.encode()).hexdigest()[:20]}.sock")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(uds)
        config = {**self.config, "uds": uds, "instance": index}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        config_path = self.run_dir / f"{self.deployment}-g{self.generation}-i{index}.json"
        config_path.write_text(json.dumps(config), encoding="utf-8")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            log_file.write(
                f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} starting instance-{index} of "
                f"{self.deployment} (generation {self.generation})\n".encode()
            )
        argv = ["--config", str(config_path)]
        cwd = str(self.config.get("app_root") or self.run_dir)
        if self.launcher is not None:
            process = await self.launcher.spawn(
                argv, env=self.env, cwd=cwd, log_path=self.log_path, python=self.python
            )
        else:
            process = spawn_worker(self.python, argv, env=self.env, cwd=cwd, log_path=self.log_path)
        instance = Instance(
            uds=uds, label=f"{self.deployment}/instance-{index} (pid {process.pid})"
        )
        instance.healthy = False
        return _Worker(index, uds, process, instance)

    async def _wait_ready(self, worker: _Worker, deadline: float) -> None:
        while True:
            code = worker.process.poll()
            if code is not None:
                raise WorkerStartError(
                    f"Worker instance-{worker.index} of deployment {self.deployment!r} exited "
                    f"with code {code} before it was ready. The end of its log "
                    f"({self.log_path}):\n{tail(self.log_path)}"
                )
            if os.path.exists(worker.uds) and await probe(worker.instance, "/ready", 5.0):
                worker.instance.healthy = True
                worker.next_liveness = time.monotonic() + self.live_delay + self.live_period
                return
            if time.monotonic() > deadline:
                raise WorkerStartError(
                    f"Worker instance-{worker.index} of deployment {self.deployment!r} was not "
                    f"ready after {self.ready_timeout:.0f} s (readiness_probe: initial_delay + "
                    f"period x failure_threshold). The end of its log ({self.log_path}):\n"
                    f"{tail(self.log_path)}"
                )
            await asyncio.sleep(READY_POLL_S)

    async def start(self) -> None:
        """Start every instance and wait until all are ready; WorkerStartError otherwise."""
        deadline = time.monotonic() + self.ready_timeout
        try:
            for index in range(self.count):
                self.workers.append(await self._spawn(index))
            self.route.instances = [w.instance for w in self.workers]
            await asyncio.gather(*(self._wait_ready(w, deadline) for w in self.workers))
        except BaseException:
            await self.stop(drain=False)
            raise
        self._supervisor = asyncio.get_running_loop().create_task(self._supervise())

    async def _restart(self, worker: _Worker, reason: str) -> None:
        worker.instance.healthy = False
        log.warning(
            "%s/%s instance-%s %s; restarting it",
            self.endpoint,
            self.deployment,
            worker.index,
            reason,
        )
        with open(self.log_path, "ab") as handle:
            handle.write(f"--- instance-{worker.index} {reason}; restarting it\n".encode())
        _terminate(worker.process, grace=0.5)
        worker.instance.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(worker.uds)
        fresh = await self._spawn(worker.index)
        position = self.workers.index(worker)
        self.workers[position] = fresh
        instances = list(self.route.instances)
        instances[instances.index(worker.instance)] = fresh.instance
        self.route.instances = instances
        self.restarts += 1
        if self.on_restart is not None:
            self.on_restart(self)
        try:
            await self._wait_ready(fresh, time.monotonic() + self.ready_timeout)
        except WorkerStartError as e:
            log.error("%s", e)  # the supervisor tries again on its next round

    async def _supervise(self) -> None:
        while not self.stopping:
            await asyncio.sleep(0.1)
            now = time.monotonic()
            for worker in list(self.workers):
                if self.stopping:
                    return
                code = worker.process.poll()
                if code is not None:
                    await self._restart(worker, f"exited with code {code}")
                    continue
                if worker.instance.healthy and now >= worker.next_liveness:
                    worker.next_liveness = now + self.live_period
                    if await probe(worker.instance, "/", self.live_timeout):
                        worker.liveness_failures = 0
                    else:
                        worker.liveness_failures += 1
                        if worker.liveness_failures >= self.live_failures:
                            await self._restart(worker, "failed its liveness probe")

    async def stop(self, *, drain: bool = True, drain_timeout: float = 30.0) -> None:
        """Wait for in-flight requests (when ``drain``), then stop every process."""
        self.stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._supervisor
        if drain:
            await self.route.drained(drain_timeout)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._stop_processes)

    def _stop_processes(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            _terminate(worker.process, grace=STOP_GRACE_S)
            worker.instance.close()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(worker.uds)

    def runtime(self) -> dict[str, Any]:
        """What ``online-deployment show`` reports about the running processes."""
        return {
            "generation": self.generation,
            "instances": [
                {
                    "instance": w.index,
                    "pid": w.process.pid,
                    "healthy": w.instance.healthy,
                    "started_at": int(w.started_at * 1000),
                }
                for w in self.workers
            ],
            "restarts": self.restarts,
            "log": str(self.log_path),
        }


def _terminate(process: Any, *, grace: float) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait(timeout=5)
