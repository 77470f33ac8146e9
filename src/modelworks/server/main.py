"""Running the server: ``modelworks server`` and ``python -m modelworks.server``.

:func:`serve` opens a local workspace (its metadata database and blob store), makes sure an
admin token exists, and runs uvicorn in this process. :func:`create_token` backs the CLI's
``modelworks token create``.
"""

from __future__ import annotations

import logging
import os
import sys

from modelworks.config import ENV_HEARTBEAT_TIMEOUT, ENV_TOKEN, is_url, load_config
from modelworks.errors import (
    AlreadyExistsError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from modelworks.server.tokens import create_token as _create_token
from modelworks.server.tokens import hash_token
from modelworks.store import open_blobs, open_metadata
from modelworks.store.base import MetadataStore

__all__ = ["ENV_ADMIN_TOKEN", "create_token", "ensure_admin_token", "serve"]

logger = logging.getLogger("modelworks.server")

#: When set, this exact token is made (or kept) an admin token at start-up.
ENV_ADMIN_TOKEN = "MODELWORKS_ADMIN_TOKEN"

#: Seconds without heartbeat after which a Running run is marked Failed.
DEFAULT_HEARTBEAT_TIMEOUT_S = 60.0


def ensure_admin_token(meta: MetadataStore, *, env_token: str | None = None) -> str | None:
    """Make sure the workspace can be administered; return a new token's text, if one was made.

    With ``env_token`` (from ``MODELWORKS_ADMIN_TOKEN``), that token is registered as an admin
    token unless it already is one. Otherwise, if no live admin token exists, one is created
    and returned so that the caller can show it once.
    """
    if env_token:
        digest = hash_token(env_token)
        try:
            existing = meta.get_token_by_hash(digest)
        except NotFoundError:
            try:
                meta.create_token(
                    name="admin (from MODELWORKS_ADMIN_TOKEN)", role="admin", token_hash=digest
                )
                return None
            except AlreadyExistsError:  # another server process registered it just now
                existing = meta.get_token_by_hash(digest)
        if existing.revoked or existing.role != "admin":
            raise ConflictError(
                f"{ENV_ADMIN_TOKEN} names token {existing.name!r}, which is "
                f"{'revoked' if existing.revoked else 'a ' + existing.role + ' token'}, not a "
                "live admin token. Unset the variable or set it to a new random value."
            )
        return None
    if any(t.role == "admin" and not t.revoked for t in meta.list_tokens()):
        return None
    return _create_token(meta, "admin", "admin")


def _heartbeat_timeout() -> float:
    raw = os.environ.get(ENV_HEARTBEAT_TIMEOUT)
    if not raw:
        return DEFAULT_HEARTBEAT_TIMEOUT_S
    try:
        value = float(raw)
    except ValueError as e:
        raise InvalidInputError(
            f"{ENV_HEARTBEAT_TIMEOUT} must be a number of seconds; got {raw!r}."
        ) from e
    if value <= 0:
        raise InvalidInputError(f"{ENV_HEARTBEAT_TIMEOUT} must be positive; got {raw!r}.")
    return value


def _configure_logging(log_level: str) -> None:
    """Show modelworks' own log records (not those of every library) at ``log_level``."""
    log = logging.getLogger("modelworks")
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(name)s: %(message)s"))
        log.addHandler(handler)
    log.setLevel(log_level.upper())


def serve(
    workspace: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    auth: bool = True,
    log_level: str = "info",
) -> None:
    """Serve the local workspace ``workspace`` over HTTP until interrupted."""
    import uvicorn

    from modelworks.server.app import create_app

    if is_url(workspace):
        raise InvalidInputError(
            f"`modelworks server` serves a local workspace folder; {workspace!r} is a URL. "
            "Point it at the folder (or set its metadata_uri/artifact_uri in workspace.yaml)."
        )
    _configure_logging(log_level)
    config = load_config(workspace)
    meta = open_metadata(config.metadata_uri)
    blobs = open_blobs(config.artifact_uri)
    try:
        if auth:
            shown = ensure_admin_token(meta, env_token=os.environ.get(ENV_ADMIN_TOKEN))
            if shown is not None:
                print(f"Admin token (shown once, store it now): {shown}", flush=True)
        else:
            logger.warning(
                "Authentication is OFF: anyone who can reach %s:%d may read and "
                "write this workspace.",
                host,
                port,
            )
        app = create_app(meta, blobs, auth=auth, heartbeat_timeout_s=_heartbeat_timeout())
        app.state.workspace_location = str(config.root)  # jobs and endpoints open it
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                log_level=log_level.lower(),
                timeout_keep_alive=30,
                server_header=False,
            )
        )
        server.run()
    finally:
        meta.close()
    if not getattr(server, "started", True):
        sys.exit(1)


def create_token(workspace: str, name: str, role: str, *, token: str | None = None) -> str:
    """Create an API token for ``workspace`` (a folder, or a server URL with an admin token).

    Returns the token's text, which is shown only now: only its sha256 is stored.
    """
    if is_url(workspace):
        meta = open_metadata(workspace, token=token or os.environ.get(ENV_TOKEN))
    else:
        meta = open_metadata(load_config(workspace).metadata_uri)
    try:
        return _create_token(meta, name, role)
    finally:
        meta.close()
