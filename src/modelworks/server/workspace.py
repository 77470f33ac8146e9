"""The server's own workspace, for routes that need more than the two stores (jobs, endpoints,
pipelines): opened once, on first use, from the folder ``modelworks server`` serves."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import Request

from modelworks.errors import InvalidInputError

if TYPE_CHECKING:
    from modelworks.workspace import Workspace

__all__ = ["server_workspace", "workspace_location"]

_lock = threading.Lock()


def workspace_location(request: Request) -> str:
    """The folder the server serves (set by ``modelworks server``; else from a SQLite URI)."""
    location = getattr(request.app.state, "workspace_location", None)
    if location:
        return str(location)
    uri = str(getattr(request.app.state.meta, "uri", ""))
    if uri.startswith("sqlite:///"):
        return str(Path(uri.removeprefix("sqlite:///")).parent)
    raise InvalidInputError(
        "This server does not know its workspace folder, so it cannot run jobs or host "
        "endpoints. Start it with `modelworks server` / `modelworks up` on the workspace folder."
    )


def server_workspace(request: Request) -> Workspace:
    """The server's workspace (one per app, opened on the first request that needs it)."""
    found: Workspace | None = getattr(request.app.state, "server_workspace", None)
    if found is None:
        with _lock:
            found = getattr(request.app.state, "server_workspace", None)
            if found is None:
                from modelworks.workspace import Workspace

                found = Workspace(workspace_location(request))
                request.app.state.server_workspace = found
    return found
