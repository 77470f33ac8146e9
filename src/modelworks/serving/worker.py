"""Building the scoring app from a model folder and/or a scoring script, and serving it.

A worker process of a deployment runs ``python -m modelworks.serving.worker --config <file>``
(the host writes the file; the host's zygote may fork it instead, see
:mod:`modelworks.serving.zygote`) and serves the app on its Unix socket with the lean server of
:mod:`modelworks.serving._http`; ``modelworks serve`` and ``python -m modelworks.serving`` run
the same app as ASGI under uvicorn on a TCP port without a gateway, as Azure's ``azmlinfsrv``
does. Environment set for the scoring code, as Azure sets it: ``AZUREML_MODEL_DIR`` (the model
folder), ``AML_APP_ROOT`` (the code folder) and ``AZUREML_ENTRY_SCRIPT``. A worker exits when
the process that started it is gone, so a killed host leaves no orphans.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from modelworks.errors import InvalidInputError

__all__ = ["build_app", "build_scorer", "run_app"]

log = logging.getLogger("modelworks.serving")

#: Environment for one-thread-per-worker numerics (LightGBM/OpenMP threads fight otherwise).
ONE_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


def _model_to_load(model_dir: Path) -> Path:
    """The folder or file to load inside an Azure-style model dir (one entry, or the dir)."""
    if not model_dir.is_dir():
        return model_dir
    if (model_dir / "MLmodel").is_file():
        return model_dir
    entries = [p for p in model_dir.iterdir() if not p.name.startswith(".")]
    return entries[0] if len(entries) == 1 else model_dir


def build_scorer(
    *,
    model_dir: str | os.PathLike[str] | None = None,
    entry_script: str | os.PathLike[str] | None = None,
    name: str = "model",
    version: str = "1",
) -> Any:
    """A scorer: the scoring script when given (the model folder is then its AZUREML_MODEL_DIR),
    else the model folder scored without code."""
    if model_dir is not None:
        os.environ["AZUREML_MODEL_DIR"] = str(Path(model_dir).resolve())
    if entry_script is not None:
        from modelworks.serving.script import ScriptScorer

        script = Path(entry_script).resolve()
        app_root = Path(os.environ.get("AML_APP_ROOT") or script.parent).resolve()
        if not script.is_relative_to(app_root):
            app_root = script.parent
        os.environ["AML_APP_ROOT"] = str(app_root)
        return ScriptScorer(script, app_root=app_root, name=name, version=version)
    if model_dir is None:
        raise InvalidInputError(
            "Give a model folder (--model-dir), a registered model (--model) or a scoring script "
            "(--entry-script)."
        )
    from modelworks.registry import load_model
    from modelworks.serving.nocode import NoCodeScorer

    loaded = load_model(_model_to_load(Path(model_dir)))
    return NoCodeScorer(loaded, name=name, version=version)


def build_app(config: dict[str, Any]) -> Any:
    """The ASGI app for a worker config (keys: model_dir, entry_script, name, version,
    deployment, batching, max_body_bytes)."""
    from modelworks.serving.app import ScoringApp

    scorer = build_scorer(
        model_dir=config.get("model_dir"),
        entry_script=config.get("entry_script"),
        name=str(config.get("name") or "model"),
        version=str(config.get("version") or "1"),
    )
    app = ScoringApp(
        scorer,
        batching=config.get("batching"),
        max_body_bytes=config.get("max_body_bytes"),
        deployment=config.get("deployment"),
    )
    warm_up = getattr(scorer, "warm_up", None)
    if callable(warm_up):
        warm_up()  # before the worker answers /ready, not in the first request
    return app


def run_app(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    uds: str | None = None,
    log_level: str = "warning",
    access_log: bool = False,
) -> None:
    """Serve ``app`` with uvicorn (uvloop + httptools when installed) until SIGTERM/SIGINT."""
    import importlib.util

    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port or 5001,
        uds=uds,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="off",
        access_log=access_log,
        log_level=log_level,
        timeout_keep_alive=300,
        backlog=4096,
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run()


def _watch_parent(parent: int) -> None:
    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                log.warning("The host process %s is gone; this worker exits.", parent)
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str] | None = None) -> None:
    """A deployment's worker process (started by the endpoint host)."""
    parser = argparse.ArgumentParser(prog="python -m modelworks.serving.worker")
    parser.add_argument("--config", required=True, help="JSON file written by the host")
    args = parser.parse_args(argv)
    config = json.loads(Path(args.config).read_text(encoding="utf-8"))
    instance = config.get("instance", 0)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format=f"%(asctime)s instance-{instance} %(levelname)s %(name)s: %(message)s",
    )
    _watch_parent(os.getppid())  # the host, or the host's zygote that forked this worker
    started = time.perf_counter()
    app = build_app(config)
    log.info(
        "Loaded %s in %.2f s (pid %s); serving on %s",
        config.get("deployment"),
        time.perf_counter() - started,
        os.getpid(),
        config.get("uds") or config.get("port"),
    )
    from modelworks.serving._http import run_server

    run_server(app, uds=config.get("uds"), port=config.get("port"))


if __name__ == "__main__":
    main()
