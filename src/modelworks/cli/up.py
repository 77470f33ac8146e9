"""``modelworks up``: the server and local job workers in one command.

The API server runs in this process; worker processes (``python -m modelworks.jobs.worker``)
run beside it, are restarted if they die, and get the server's URL (and a token made for
them) so that jobs logging with MLflow reach it. Ctrl-C stops the server; the workers stop
their running jobs and put them back in the queue for the next start.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from typing import Annotated

import typer

from modelworks.cli._common import note, state

__all__ = ["up"]


def _spawn(argv: list[str], log_path: str) -> subprocess.Popen[bytes]:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def up(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option("--workers", min=0, help="Worker processes.")] = 1,
    max_concurrency: Annotated[
        int | None,
        typer.Option("--max-concurrency", min=1, help="Local jobs at once (default: cores)."),
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a token (trusted networks).")
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", help="Server log level.")] = "info",
) -> None:
    """Run the server and the local job workers of the workspace until interrupted."""
    from modelworks.config import is_url, load_config
    from modelworks.errors import InvalidInputError
    from modelworks.server.main import serve
    from modelworks.server.tokens import hash_token, new_token
    from modelworks.store import open_metadata

    location = state(ctx).location
    if is_url(location):
        raise InvalidInputError(
            f"`modelworks up` runs a local workspace folder; {location!r} is a URL."
        )
    config = load_config(location)
    root = str(config.root)
    client_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    url = f"http://{client_host}:{port}"
    token: str | None = None
    token_id: str | None = None
    meta = open_metadata(config.metadata_uri)
    try:
        if not no_auth:
            token = new_token()
            token_id = meta.create_token(
                name="modelworks up workers", role="writer", token_hash=hash_token(token)
            ).id
    finally:
        meta.close()
    argv = [
        sys.executable,
        "-m",
        "modelworks.jobs.worker",
        "--workspace",
        root,
        "--tracking-uri",
        url,
    ]
    if token:
        argv += ["--tracking-token", token]
    if max_concurrency:
        argv += ["--max-concurrency", str(max_concurrency)]
    logs = config.root / "cache" / "jobs"
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen[bytes]] = []
    stopping = threading.Event()
    for i in range(workers):
        procs.append(_spawn(argv, str(logs / f"up-worker-{i}.log")))
    note(f"{workers} job worker(s) started (logs in {logs}).")

    def supervise() -> None:
        while not stopping.wait(2.0):
            for i, proc in enumerate(procs):
                if proc.poll() is not None and not stopping.is_set():
                    note(f"Worker {i} exited ({proc.returncode}); restarting it.", style="yellow")
                    procs[i] = _spawn(argv, str(logs / f"up-worker-{i}.log"))

    watcher = threading.Thread(target=supervise, daemon=True)
    watcher.start()
    try:
        serve(root, host=host, port=port, auth=not no_auth, log_level=log_level)
    finally:
        stopping.set()
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if token_id is not None:
            meta = open_metadata(config.metadata_uri)
            with contextlib.suppress(Exception):
                meta.revoke_token(token_id)
            meta.close()
