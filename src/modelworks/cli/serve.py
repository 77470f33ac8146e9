"""``modelworks serve``: a local scoring server for a score.py and/or a model (like azmlinfsrv)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from modelworks.cli._common import note, state


def serve(
    ctx: typer.Context,
    entry_script: Annotated[
        Path | None, typer.Option("--entry-script", help="An Azure scoring script (score.py).")
    ] = None,
    model_dir: Annotated[
        Path | None,
        typer.Option("--model-dir", help="Model folder or file (AZUREML_MODEL_DIR for score.py)."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="A registered model instead: bank-clf@production, ..."),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 5001,
) -> None:
    """Serve /score, /invocations and /swagger.json on one port, without keys, until Ctrl-C."""
    from modelworks.serving.server import serve_model

    note(f"Scoring at http://{host}:{port}/score (swagger: http://{host}:{port}/swagger.json)")
    serve_model(
        model=model,
        model_dir=str(model_dir) if model_dir is not None else None,
        entry_script=str(entry_script) if entry_script is not None else None,
        workspace=state(ctx).location if model else None,
        host=host,
        port=port,
        access_log=True,
        log_level="info",
    )
