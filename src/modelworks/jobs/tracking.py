"""MLflow variables for job processes: ``MLFLOW_TRACKING_URI`` / ``MLFLOW_RUN_ID`` pointing at
the job's run, so that ``mlflow.log_metric`` in an unchanged Azure ML training script lands on
it; ``MODELWORKS_WORKSPACE`` / ``MODELWORKS_TOKEN`` then name the same server, so that
``mw.log_metric`` talks to it too.

The MLflow REST API is served by ``modelworks server`` (``modelworks.server.mlflow``). A
worker given ``--tracking-uri`` (as ``modelworks up`` does) uses that server. Otherwise a
worker of a local workspace serves the API itself, on a free loopback port, from a thread
(started when the worker starts, so it is ready by the time a job needs it), authenticated
with a writer token kept in the workspace cache. Without the MLflow-compatible server module,
jobs get only the ``MODELWORKS_*`` variables (``mw.log_metric`` works either way).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["TrackingServer", "mlflow_env_function", "tracking_env_factory"]


def mlflow_env_function() -> Callable[..., dict[str, str]] | None:
    """``modelworks.server.mlflow.env.mlflow_env`` if that module is installed."""
    try:
        from modelworks.server.mlflow.env import mlflow_env
    except ImportError:
        return None
    return mlflow_env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _worker_token(ws: Workspace) -> str:
    """A writer token for job processes, created once per workspace and kept (0600) in its
    cache, so worker restarts do not pile up tokens."""
    from modelworks.errors import NotFoundError
    from modelworks.server.tokens import hash_token, new_token

    path = Path(ws.cache_dir) / "jobs" / "tracking-token"
    if path.exists():
        secret = path.read_text().strip()
        with contextlib.suppress(NotFoundError):
            token = ws.meta.get_token_by_hash(hash_token(secret))
            if not token.revoked:
                return secret
    secret = new_token()
    ws.meta.create_token(
        name="job tracking (workers)", role="writer", token_hash=hash_token(secret)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


class TrackingServer:
    """The workspace's API (with the MLflow routes) on 127.0.0.1, served from a thread."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.url: str | None = None
        self.token: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._error: BaseException | None = None

    def start(self) -> None:
        """Start serving in the background (returns at once)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._serve, daemon=True, name="tracking")
            self._thread.start()

    def _serve(self) -> None:
        try:
            import uvicorn

            from modelworks.server.app import create_app

            self.token = _worker_token(self.ws)
            app = create_app(self.ws.meta, self.ws.blobs, auth=True)
            port = _free_port()
            config = uvicorn.Config(
                app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"
            )
            self._server = uvicorn.Server(config)
            self._server.install_signal_handlers = lambda: None  # the worker owns signals
            self.url = f"http://127.0.0.1:{port}"
            self._server.run()
        except BaseException as e:  # noqa: BLE001 - reported by ensure()
            self._error = e

    def ensure(self, timeout_s: float = 30.0) -> tuple[str, str]:
        """Wait until the server answers; returns ``(url, token)``."""
        self.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._error is not None:
                raise RuntimeError(f"the tracking server did not start: {self._error}")
            server = self._server
            if server is not None and getattr(server, "started", False) and self.url:
                return self.url, str(self.token)
            time.sleep(0.02)
        raise RuntimeError("the tracking server did not start in time")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def tracking_env_factory(
    ws: Workspace,
    tracking_uri: str | None = None,
    token: str | None = None,
    *,
    eager: bool = True,
) -> tuple[Callable[[str, str], dict[str, str]] | None, TrackingServer | None]:
    """``(env_for, server)``: ``env_for(run_id, experiment)`` gives a job's MLflow variables
    (None without MLflow support); ``server`` is the in-process server to stop, if one was
    made (started now when ``eager``)."""
    mlflow_env = mlflow_env_function()
    if mlflow_env is None:
        return None, None
    if tracking_uri is None and ws.is_remote:
        tracking_uri = ws.location
    server = None if tracking_uri else TrackingServer(ws)
    if server is not None and eager:
        server.start()

    def env_for(run_id: str, experiment: str) -> dict[str, str]:
        uri, secret = tracking_uri, token
        if server is not None:
            try:
                uri, secret = server.ensure()
            except RuntimeError:
                return {}
        values = {str(k): str(v) for k, v in mlflow_env(uri, run_id, experiment, secret).items()}
        # The fluent API (mw.log_metric) goes through the same server: a job process then
        # needs no SQL driver or migrations check, which halves its start-up.
        values["MODELWORKS_WORKSPACE"] = str(uri)
        if secret:
            values["MODELWORKS_TOKEN"] = secret
        return values

    return env_for, server
