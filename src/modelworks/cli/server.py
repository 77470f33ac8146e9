"""``modelworks server``: serve the workspace over HTTP (REST API) until interrupted."""

from __future__ import annotations

from typing import Annotated

import typer

from modelworks.cli._common import state


def server(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8080,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a token (trusted networks).")
    ] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Serve the workspace (a local folder) so that SDKs and CLIs can use it by URL.

    With authentication on, an admin token is created and printed at the first start.
    """
    from modelworks.server.main import serve

    serve(state(ctx).location, host=host, port=port, auth=not no_auth, log_level=log_level)
