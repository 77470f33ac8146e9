"""The process that hosts a workspace's online endpoints: gateways and worker processes.

One host process per workspace serves every endpoint, each on its own port (its scoring URI
``http://127.0.0.1:<port>/score``, like Azure's one host name per endpoint). One process,
because the gateways are I/O-bound and share one event loop cheaply, while the CPU-bound
scoring runs in the worker processes; one port per endpoint, because that keeps each
endpoint's URI stable and independent of the others.

The host reads the desired state from the database and makes it so (it *reconciles*): it
polls one revision number every 200 ms (and at once when a change made on this machine rings
its doorbell, :mod:`modelworks.endpoints._doorbell`) and, when it grew, starts gateways for new
endpoints, updates keys and traffic in place, starts a new :class:`WorkerGroup` for each new
deployment generation (its workers forked by the host's zygote, a process that has the heavy
libraries imported, see :mod:`modelworks.endpoints._launcher`), switches the route once the
new workers are ready (zero downtime) and drains and stops the old ones. Because everything is in the database, restarting the host re-creates
every endpoint with the same ports and keys.

Ways to run it:

- :func:`start_all` — inside another process (``modelworks up`` calls it): the host runs in
  a background thread; the returned :class:`HostHandle` stops it.
- ``python -m modelworks.endpoints --workspace W`` (or ``modelworks online-endpoint serve``)
  — in the foreground until Ctrl-C / SIGTERM.
- :func:`ensure_host` — what ``online-endpoint create`` and ``online-deployment create`` call:
  when no host is alive for the workspace, it starts a detached one (logging to
  ``<workspace>/endpoints/host.log``), which exits by itself once the workspace has no
  endpoints left. :func:`stop_host` stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modelworks.endpoints._doorbell import Doorbell, bell_path
from modelworks.endpoints._launcher import Launcher
from modelworks.endpoints._workers import WorkerGroup, WorkerStartError, socket_dir, tail
from modelworks.endpoints.entities import endpoint_address
from modelworks.errors import ConflictError, ModelworksError, StoreUnavailableError
from modelworks.serving._http import HttpServer
from modelworks.serving.gateway import AccessLog, EndpointGateway
from modelworks.serving.metrics import GatewayMetrics
from modelworks.store.sql.endpoints import EndpointStore, open_endpoint_store

if TYPE_CHECKING:
    from modelworks.endpoints.entities import OnlineDeployment, OnlineEndpoint
    from modelworks.workspace import Workspace

__all__ = ["EndpointHost", "HostHandle", "ensure_host", "runtime_dir", "start_all", "stop_host"]

log = logging.getLogger("modelworks.endpoints.host")

POLL_S = 0.2
HEARTBEAT_S = 2.0
STALE_MS = 10_000
IDLE_EXIT_S = 3.0


def runtime_dir(ws: Workspace) -> Path:
    """``<workspace>/endpoints``: logs, materialised models and code, worker configs."""
    root = ws.root if ws.root is not None else ws.cache_dir
    folder = Path(root) / "endpoints"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Server:
    """One endpoint's gateway listening on its port (in the host's event loop)."""

    def __init__(self, gateway: EndpointGateway, port: int) -> None:
        self.gateway = gateway
        self.port = port
        self.server = HttpServer(gateway)

    async def start(self) -> None:
        await self.server.start(host=endpoint_address(), port=self.port)

    async def stop(self) -> None:
        await self.server.close(grace=10.0)


class EndpointHost:
    """Hosts every online endpoint of one workspace (see the module docstring).

    ``idle_exit``: stop once the workspace has had no endpoint for a few seconds (the
    detached host does this; ``modelworks up`` does not).
    """

    def __init__(
        self, location: str, *, idle_exit: bool = False, launcher: Launcher | None = None
    ) -> None:
        self.location = location
        self.idle_exit = idle_exit
        self.id = uuid.uuid4().hex
        self.metrics = GatewayMetrics()
        self.servers: dict[str, _Server] = {}
        self.groups: dict[tuple[str, str], WorkerGroup] = {}
        self.starting: dict[tuple[str, str], int] = {}
        self.failed: dict[tuple[str, str], int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop: asyncio.Event | None = None  # created in the host's loop
        self.applied = -1
        self.ws: Workspace | None = None
        self.store: EndpointStore | None = None
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self.launcher = launcher  # given when the zygote was started before this module loaded
        self._wake: asyncio.Event | None = None
        self._bell: Doorbell | None = None

    # -- life cycle -------------------------------------------------------------------------
    async def run(self) -> None:
        """Serve until :meth:`request_stop` (or SIGTERM/SIGINT in the main thread)."""
        from modelworks.workspace import Workspace

        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # the zygote first: its imports take seconds and run while this process opens the
        # workspace (a local folder's runtime files are at <folder>/endpoints)
        early = "://" not in self.location
        if early and self.launcher is None:
            self._start_launcher(Path(self.location).expanduser().resolve() / "endpoints")
        try:
            self.ws = await loop.run_in_executor(None, Workspace, self.location)
            self.store = open_endpoint_store(self.ws)
            store = self.store
            live = await loop.run_in_executor(None, store.live_hosts, STALE_MS)
            others = [h for h in live if _pid_alive(h.pid) or h.hostname != socket.gethostname()]
            if others:
                raise ConflictError(
                    f"The endpoints of workspace {self.location} are already hosted by process "
                    f"{others[0].pid} on {others[0].hostname}. Stop it first (modelworks "
                    "online-endpoint stop-host) or use that one."
                )
            await loop.run_in_executor(None, store.register_host, self.id, os.getpid())
        except BaseException:
            if self.launcher is not None:
                await loop.run_in_executor(None, self.launcher.stop)
            raise
        if not early:
            self._start_launcher(runtime_dir(self.ws))
        self._wake = asyncio.Event()
        self._bell = Doorbell(bell_path(runtime_dir(self.ws), socket_dir()), self._wake.set)
        await self._bell.start()
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.request_stop)
        log.info("Endpoint host %s (pid %s) for %s", self.id, os.getpid(), self.location)
        try:
            await self._reconcile()
            self.ready.set()
            await self._loop()
        finally:
            if self._bell is not None:
                self._bell.close()
            await self._shutdown()
            with contextlib.suppress(ModelworksError):
                await loop.run_in_executor(None, store.remove_host, self.id)
            store.close()
            self.ws.close()

    def _start_launcher(self, folder: Path) -> None:
        self.launcher = Launcher(
            socket_path=Launcher.socket_for(f"{self.id}|{os.getpid()}", socket_dir()),
            log_path=folder / "logs" / "zygote.log",
        )
        self.launcher.start()

    def request_stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
        if self._wake is not None:
            self._wake.set()

    async def _loop(self) -> None:
        assert self._stop is not None and self.store is not None
        loop = asyncio.get_running_loop()
        last_beat = time.monotonic()
        idle_since: float | None = None
        wake = self._wake or asyncio.Event()
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), POLL_S)  # a poll, or the doorbell
            wake.clear()
            if self._stop.is_set():
                break
            try:
                revision = await loop.run_in_executor(None, self.store.revision)
                if revision != self.applied:
                    await self._reconcile()
                if time.monotonic() - last_beat > HEARTBEAT_S:
                    last_beat = time.monotonic()
                    await loop.run_in_executor(
                        None, self.store.heartbeat_host, self.id, self.applied
                    )
                    await self._report_runtime()
                    if self.launcher is not None:
                        self.launcher.revive()
                    root = self.ws.root if self.ws is not None else None
                    if root is not None and not root.exists():
                        log.info("The workspace folder %s is gone; the host exits.", root)
                        break
            except StoreUnavailableError as e:
                log.warning("database unavailable, retrying: %s", e)
                continue
            if self.idle_exit:
                if self.servers or self.groups or self.starting:
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > IDLE_EXIT_S:
                    log.info("No endpoints left; the host exits.")
                    break

    async def _shutdown(self) -> None:
        for server in list(self.servers.values()):
            with contextlib.suppress(Exception):
                await server.stop()
        self.servers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(
            *(g.stop(drain=False) for g in self.groups.values()), return_exceptions=True
        )
        self.groups.clear()
        if self.launcher is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.launcher.stop)

    # -- reconciling ------------------------------------------------------------------------
    async def _reconcile(self) -> None:
        assert self.store is not None
        loop = asyncio.get_running_loop()
        store = self.store
        revision = await loop.run_in_executor(None, store.revision)
        endpoints = {e.name: e for e in await loop.run_in_executor(None, store.list_endpoints)}
        deployments = {
            (d.endpoint_name, d.name): d
            for d in await loop.run_in_executor(None, store.list_deployments)
        }
        for name in [n for n in self.servers if n not in endpoints]:
            await self.servers.pop(name).stop()
        for key in [k for k in self.groups if k not in deployments]:
            group = self.groups.pop(key)
            server = self.servers.get(key[0])
            if server is not None:
                server.gateway.remove_route(key[1])
            self._spawn_task(group.stop())
        for endpoint in endpoints.values():
            await self._apply_endpoint(endpoint)
        for key, deployment in deployments.items():
            if key[0] not in self.servers:
                continue
            running = self.groups.get(key)
            current = running.generation if running is not None else 0
            if deployment.generation in (current, self.starting.get(key), self.failed.get(key)):
                continue
            self.starting[key] = deployment.generation
            self._spawn_task(self._rollout(deployment))
        self.applied = revision
        await loop.run_in_executor(None, store.heartbeat_host, self.id, revision)

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _apply_endpoint(self, endpoint: OnlineEndpoint) -> None:
        assert self.store is not None and self.ws is not None
        loop = asyncio.get_running_loop()
        mode, secret, keys = await loop.run_in_executor(
            None, self.store.auth_material, endpoint.name
        )
        server = self.servers.get(endpoint.name)
        if server is None:
            logs = runtime_dir(self.ws) / "logs" / endpoint.name
            gateway = EndpointGateway(
                endpoint.name, metrics=self.metrics, access_log=AccessLog(logs / "access.log")
            )
            server = _Server(gateway, endpoint.port)
            try:
                await server.start()
            except (OSError, SystemExit) as e:
                problem = (
                    f"Cannot listen on port {endpoint.port}: {e}. Is another program using it? "
                    "Delete and re-create the endpoint with another --port."
                )
                await loop.run_in_executor(
                    None,
                    lambda: self.store.update_endpoint(  # type: ignore[union-attr]
                        endpoint.name, provisioning_state="Failed", error=problem
                    ),
                )
                return
            self.servers[endpoint.name] = server
            if endpoint.provisioning_state != "Succeeded":
                await loop.run_in_executor(
                    None,
                    lambda: self.store.update_endpoint(  # type: ignore[union-attr]
                        endpoint.name, provisioning_state="Succeeded", error=None
                    ),
                )
        server.gateway.set_auth(mode, list(keys.values()), secret)
        server.gateway.set_traffic(endpoint.traffic, endpoint.mirror_traffic)

    async def _rollout(self, deployment: OnlineDeployment) -> None:
        """Start the new generation, switch traffic to it once ready, drain the old one."""
        assert self.store is not None and self.ws is not None
        key = (deployment.endpoint_name, deployment.name)
        loop = asyncio.get_running_loop()
        store = self.store
        try:
            group = await loop.run_in_executor(None, self._prepare, deployment)
            await group.start()
        except (WorkerStartError, ModelworksError, OSError) as e:
            message = e.message if isinstance(e, ModelworksError) else str(e)
            if self.starting.get(key) == deployment.generation:
                del self.starting[key]
            self.failed[key] = deployment.generation
            await loop.run_in_executor(
                None,
                lambda: store.report_deployment(
                    *key, generation=deployment.generation, state="Failed", error=message
                ),
            )
            return
        if self.starting.get(key) == deployment.generation:
            del self.starting[key]
        current = self.groups.get(key)
        server = self.servers.get(deployment.endpoint_name)
        if server is None or (current is not None and current.generation > group.generation):
            await group.stop(drain=False)  # superseded while it started
            return
        self.groups[key] = group
        server.gateway.set_route(group.route)
        await loop.run_in_executor(
            None,
            lambda: store.report_deployment(
                *key, generation=group.generation, state="Succeeded", runtime=group.runtime()
            ),
        )
        if current is not None:
            await current.stop(drain=True)

    def _prepare(self, deployment: OnlineDeployment) -> WorkerGroup:
        """Materialise the model, code and environment and build the worker group (blocking).

        An environment that is not the host's interpreter is built first (once per content,
        cached); meanwhile the deployment's runtime says so, and its log gets the build log.
        """
        from modelworks.endpoints._environment import RESOLVED_KEY, is_inherit, materialise
        from modelworks.endpoints._materialise import worker_setup

        assert self.ws is not None and self.store is not None
        folder = runtime_dir(self.ws)
        log_path = folder / "logs" / deployment.endpoint_name / f"{deployment.name}.log"
        resolved = deployment.spec.get(RESOLVED_KEY)
        python = sys.executable
        if not is_inherit(resolved):
            label = resolved.get("label", "inline") if resolved else "inline"
            self.store.report_deployment(
                deployment.endpoint_name,
                deployment.name,
                generation=deployment.generation,
                runtime={"phase": f"building environment {label}", "log": str(log_path)},
            )
            python = materialise(resolved or {}, log_path)
        config, env = worker_setup(self.ws, deployment)
        if python != sys.executable:
            bin_dir = os.path.dirname(python)
            env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
            env["VIRTUAL_ENV"] = os.path.dirname(bin_dir)
        return WorkerGroup(
            endpoint=deployment.endpoint_name,
            deployment=deployment.name,
            generation=deployment.generation,
            spec=deployment.spec,
            config=config,
            env=env,
            log_path=log_path,
            run_dir=folder / "run" / deployment.endpoint_name,
            on_restart=self._count_restart,
            launcher=self.launcher,
            python=python,
        )

    def _count_restart(self, group: WorkerGroup) -> None:
        self.metrics.restarts.labels(group.endpoint, group.deployment).inc()

    async def _report_runtime(self) -> None:
        assert self.store is not None
        loop = asyncio.get_running_loop()
        store = self.store
        for (endpoint, name), group in list(self.groups.items()):
            report = functools.partial(
                store.report_deployment,
                endpoint,
                name,
                generation=group.generation,
                runtime=group.runtime(),
            )
            await loop.run_in_executor(None, report)


# -- running it ----------------------------------------------------------------------------


class HostHandle:
    """A host running in a background thread of this process (from :func:`start_all`)."""

    def __init__(
        self, host: EndpointHost, thread: threading.Thread, loop: asyncio.AbstractEventLoop
    ) -> None:
        self.host = host
        self.thread = thread
        self.loop = loop

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the gateways and workers and wait for the thread to end."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.host.request_stop)
            self.thread.join(timeout)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop

        return uvloop.new_event_loop()
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop()


def start_all(ws: Workspace | str, *, timeout: float = 60.0) -> HostHandle:
    """Start every endpoint of ``ws`` inside this process (for ``modelworks up``).

    A detached host already serving the workspace is stopped first (ports are the
    endpoints'). Returns once all endpoints listen; deployments come up in the background
    (their state shows in ``ws.online_deployments.get``). Call ``.stop()`` on the handle at exit.
    """
    location = ws if isinstance(ws, str) else ws.location
    if not isinstance(ws, str):
        stop_host(ws)
    host = EndpointHost(location)
    loop = _new_loop()

    def main() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(host.run())
        except BaseException as e:  # noqa: BLE001 - reported to the caller of start_all
            host.error = e
            host.ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=main, name="modelworks-endpoints", daemon=True)
    thread.start()
    if not host.ready.wait(timeout):
        raise StoreUnavailableError(f"The endpoint host did not start within {timeout:.0f} s.")
    if host.error is not None:
        raise host.error
    return HostHandle(host, thread, loop)


def serve_forever(
    location: str, *, idle_exit: bool = False, launcher: Launcher | None = None
) -> None:
    """Run the host in the foreground until SIGTERM/SIGINT (``launcher``: a started zygote)."""
    loop = _new_loop()
    asyncio.set_event_loop(loop)
    try:
        host = EndpointHost(location, idle_exit=idle_exit, launcher=launcher)
        loop.run_until_complete(host.run())
    finally:
        loop.close()


def live_host(ws: Workspace, *, store: EndpointStore | None = None) -> Any:
    """The host serving ``ws`` now (an :class:`EndpointHost` record), or None.

    With ``store`` (an open endpoint store of ``ws``, kept open) it only reads, which is what
    callers polling for a host want; without, it opens one and prunes stale host rows.
    """
    if store is not None:
        hosts = store.live_hosts(STALE_MS, prune=False)
    else:
        own = open_endpoint_store(ws)
        try:
            hosts = own.live_hosts(STALE_MS)
        finally:
            own.close()
    for host in hosts:
        if host.hostname != socket.gethostname() or _pid_alive(host.pid):
            return host
    return None


def ensure_host(ws: Workspace, *, timeout: float = 30.0, store: EndpointStore | None = None) -> Any:
    """The live host of ``ws``; starts a detached one when there is none."""
    found = live_host(ws, store=store)
    if found is not None:
        return found
    from modelworks.endpoints._detached import launch

    folder = runtime_dir(ws)
    log_path = folder / "host.log"
    process = launch(ws.location, folder)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = live_host(ws, store=store)
        if found is not None and found.applied_revision >= 0:
            return found
        if process.poll() is not None:
            found = live_host(ws)  # it exits at once when another host won the race
            if found is not None:
                return found
            raise StoreUnavailableError(
                f"The endpoint host exited with code {process.returncode}. The end of its log "
                f"({log_path}):\n{tail(log_path)}"
            )
        time.sleep(0.05)
    raise StoreUnavailableError(
        f"The endpoint host did not start within {timeout:.0f} s; see {log_path}."
    )


def stop_host(ws: Workspace, *, timeout: float = 60.0) -> bool:
    """Stop the host process serving ``ws`` (SIGTERM, then SIGKILL); False when none ran."""
    found = live_host(ws)
    if found is None or found.hostname != socket.gethostname() or found.pid == os.getpid():
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _pid_alive(found.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(found.pid, os.WNOHANG)
    if _pid_alive(found.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(found.pid, signal.SIGKILL)
    store = open_endpoint_store(ws)
    try:
        store.remove_host(found.id)
    finally:
        store.close()
    return True
