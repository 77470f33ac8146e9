"""Serve one model or scoring script over HTTP without an endpoint (a local debug server).

What ``modelworks serve`` and ``python -m modelworks.serving`` run: the same scoring app as a
deployment's worker, on a TCP port, without keys or a gateway (as Azure's ``azmlinfsrv``).
"""

from __future__ import annotations

import os

from modelworks.errors import InvalidInputError

__all__ = ["serve_model"]


def serve_model(
    *,
    model: str | None = None,
    model_dir: str | None = None,
    entry_script: str | None = None,
    workspace: str | None = None,
    host: str = "127.0.0.1",
    port: int = 5001,
    log_level: str = "warning",
    access_log: bool = False,
    batching: dict[str, float] | None = None,
) -> None:
    """Load the model (and run init()), then serve until interrupted.

    ``model`` is a registry reference (``models:/bank-clf@production``, ``bank-clf:3``) in
    ``workspace``; ``model_dir`` a local model folder or file; ``entry_script`` a score.py
    (with ``model_dir`` as its ``AZUREML_MODEL_DIR``).
    """
    from modelworks.serving.app import ScoringApp
    from modelworks.serving.worker import ONE_THREAD_ENV, build_scorer, run_app

    if model is not None and model_dir is not None:
        raise InvalidInputError("Give either model (a registry reference) or model_dir, not both.")
    if model is None and model_dir is None and entry_script is None:
        raise InvalidInputError(
            "Give a registry reference (--model), a model folder (--model-dir) or a scoring "
            "script (--entry-script)."
        )
    for key, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(key, value)
    name, version = "model", "local"
    if model is not None:
        from modelworks.workspace import Workspace

        ws = Workspace(workspace)
        record = ws.models.get(model)
        name, version = record.name, record.version
        model_dir = str(ws.models.local_path(f"models:/{record.name}/{record.version}"))
    scorer = build_scorer(
        model_dir=model_dir, entry_script=entry_script, name=name, version=version
    )
    app = ScoringApp(scorer, batching=batching)
    run_app(app, host=host, port=port, log_level=log_level, access_log=access_log)
