"""``modelworks quickstart``: the whole life cycle on the bundled bank-marketing data."""

from __future__ import annotations

from typing import Annotated

import typer


def quickstart(
    workspace: Annotated[
        str, typer.Option("--workspace", "-w", help="Workspace folder to create or reuse.")
    ] = "./quickstart-ws",
) -> None:
    """Register real data, train, register the model, deploy it and score it over HTTP."""
    from modelworks.quickstart import run_quickstart

    run_quickstart(workspace, echo=typer.echo)
