"""The modelworks HTTP server: the REST API over a workspace's stores.

``create_app`` builds the FastAPI application; ``serve`` runs it on a local workspace;
``create_token`` makes an API token. Imports are lazy so that ``import modelworks.server``
costs nothing until one of them is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelworks.server.app import create_app
    from modelworks.server.main import create_token, serve

__all__ = ["create_app", "create_token", "serve"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from modelworks.server.app import create_app

        return create_app
    if name in ("create_token", "serve"):
        from modelworks.server import main

        return getattr(main, name)
    raise AttributeError(f"module 'modelworks.server' has no attribute {name!r}")
