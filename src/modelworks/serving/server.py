"""Run a scoring app for a registered model or a local model folder under uvicorn."""

from __future__ import annotations

from modelworks.errors import InvalidInputError

__all__ = ["serve_model"]


def serve_model(
    *,
    model: str | None = None,
    model_dir: str | None = None,
    workspace: str | None = None,
    host: str = "127.0.0.1",
    port: int = 5001,
    log_level: str = "warning",
) -> None:
    """Load the model once, then serve it until interrupted."""
    import uvicorn

    from modelworks.registry import load_model
    from modelworks.serving.scoring_app import create_scoring_app

    if (model is None) == (model_dir is None):
        raise InvalidInputError("Give exactly one of model (a registry reference) or model_dir.")
    name, version = "model", "local"
    if model is not None:
        from modelworks.workspace import Workspace

        ws = Workspace(workspace)
        record = ws.models.get(model)
        name, version = record.name, record.version
        loaded = ws.models.load(f"models:/{record.name}/{record.version}")
    else:
        loaded = load_model(str(model_dir))
    app = create_scoring_app(loaded, name=name, version=version)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
